/**
 * conduit's egress server: the allowlist service of the egress guard. It keeps allowlist entries (domains,
 * {@code *.suffix} wildcards, addresses and prefixes) in the control plane's store, resolves the domains, pushes the
 * effective allowlist to gateways over the push channel, takes the gateways' reports, and serves an HTTP API and
 * the web page.
 */
@NullMarked
package dev.conduit.core.egress;

import org.jspecify.annotations.NullMarked;
