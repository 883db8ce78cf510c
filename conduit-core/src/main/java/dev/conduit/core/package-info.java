/**
 * conduit's embedding API: {@link dev.conduit.core.Conduit}, its builder and resources, listeners, and the values a
 * connection is described by.
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core;

import org.jspecify.annotations.NullMarked;
