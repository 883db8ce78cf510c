/**
 * Network values shared by every part of conduit: host names in one canonical spelling
 * ({@link dev.conduit.core.net.HostName}), used by routing rules, interception, netfilter plans and
 * the egress guard alike.
 */
package dev.conduit.core.net;
