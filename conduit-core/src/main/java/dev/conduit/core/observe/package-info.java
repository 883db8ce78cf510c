/**
 * Connection observers, the access log and metrics.
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core.observe;

import org.jspecify.annotations.NullMarked;
