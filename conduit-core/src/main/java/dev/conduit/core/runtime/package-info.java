/**
 * One runtime for every conduit role: a {@link dev.conduit.core.runtime.Service} contract (start,
 * reload, drain, close, and mounting admin routes) and the {@link dev.conduit.core.runtime.ConduitRuntime}
 * that starts services in order, stops them in reverse by one drain deadline, reloads them on SIGHUP
 * with typed {@link dev.conduit.core.runtime.ConfigSections}, and serves the admin endpoint. Every
 * {@code conduit} command runs through it, and a JVM application hosts several roles with it the same way.
 *
 * <h2>Adding a role</h2>
 * <ol>
 * <li>Define its section: an immutable record of typed values and a
 *     {@link dev.conduit.core.runtime.SectionKey} constant for it, e.g.
 *     {@code SectionKey.of("manager", ManagerSettings.class)}.</li>
 * <li>Implement {@link dev.conduit.core.runtime.Service}: open what it needs in
 *     {@code start()}, read {@code sections.get(KEY)} in {@code reload} and answer
 *     {@link dev.conduit.core.runtime.ReloadOutcome#applied applied} or
 *     {@link dev.conduit.core.runtime.ReloadOutcome#restartNeeded restart needed}, stop taking work in
 *     {@code drain}, release everything in {@code close()}, and mount its admin routes (its endpoints,
 *     status) under its own prefix in {@code mount}.</li>
 * <li>Add it to the runtime after the services it needs ({@code builder.service(...)}): it starts after
 *     them and stops before them.</li>
 * <li>In the CLI: register the section's reader with the config loader
 *     ({@code ConfigSection.typed(KEY, reader)} in {@code StandardSections}, or
 *     {@code ConfigLoader.withSection}); build the role's services in the command that runs it (as
 *     {@code ProxyRole} does for {@code proxy} and {@code run}), and run them with {@code Lifecycle.run},
 *     which starts the runtime, wires SIGHUP to {@link dev.conduit.core.runtime.ConduitRuntime#reload}
 *     and SIGTERM to {@link dev.conduit.core.runtime.ConduitRuntime#stop}. A role that runs beside the
 *     proxy in {@code run} adds its services in {@code ProxyRole}'s assembly instead.</li>
 * </ol>
 *
 * <p>Library services: {@link dev.conduit.core.runtime.ConduitService} (a conduit) here,
 * {@code dev.conduit.netfilter.CaptureService} (transparent capture) and {@code dev.conduit.mitm.MitmService}
 * (the caching MITM proxy) in their modules.
 *
 * <p>Types and members here are non-null unless marked {@code @Nullable}.
 */
@NullMarked
package dev.conduit.core.runtime;

import org.jspecify.annotations.NullMarked;
