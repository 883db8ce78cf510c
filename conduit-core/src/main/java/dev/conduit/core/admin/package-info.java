/**
 * The admin HTTP endpoint: metrics, health, readiness, live connections and the effective
 * configuration ({@link dev.conduit.core.admin.AdminServer}).
 */
package dev.conduit.core.admin;
