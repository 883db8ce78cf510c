/**
 * Routing: first-match rules and their decisions.
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core.route;

import org.jspecify.annotations.NullMarked;
