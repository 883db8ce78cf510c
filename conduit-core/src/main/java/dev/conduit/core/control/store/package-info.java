/**
 * The control plane's store: nodes, join tokens, certificates, the certificate authority, a state version and
 * an audit log, behind {@link dev.conduit.core.control.store.ControlStore}. SQLite embedded by default,
 * PostgreSQL when several managers share state (their change feeds meet through {@code LISTEN/NOTIFY}); the
 * schema is migrated by Flyway. The JDBC drivers, HikariCP and Flyway are optional dependencies of conduit-core:
 * an application that hosts a manager adds them.
 */
package dev.conduit.core.control.store;
