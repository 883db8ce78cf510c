/**
 * The admin HTTP endpoint: metrics, health, readiness, live connections and the effective
 * configuration ({@link dev.conduit.core.admin.AdminServer}).
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core.admin;

import org.jspecify.annotations.NullMarked;
