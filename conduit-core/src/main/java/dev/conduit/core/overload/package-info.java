/**
 * conduit's overload manager, as configured and as seen from outside: one budget for the memory conduit
 * buffers and one for file descriptors, and the escalating {@link dev.conduit.core.overload.OverloadLevel
 * levels} conduit moves through as either fills.
 */
package dev.conduit.core.overload;
