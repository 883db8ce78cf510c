/**
 * Outbounds and their hops, the dialer, and endpoint health.
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core.outbound;

import org.jspecify.annotations.NullMarked;
