package dev.conduit.core.control.push.internal;

import dev.conduit.core.control.push.PushAgentStatus;
import java.time.Instant;
import java.util.Optional;

/** The mutable status of one agent; written on its connection's event loop, read by status queries. */
final class AgentRecord {

  private final String agentId;
  private String name = "";
  private String role = "";
  private String remoteAddress = "";
  private Object connection;
  private Instant lastSeen = Instant.now();
  private long ackedVersion;
  private String ackedHash;
  private boolean ackedHashMatches;
  private PushAgentStatus.Nack lastNack;
  private long nacks;
  private long snapshotsSent;
  private long deltasSent;

  AgentRecord(String agentId) {
    this.agentId = agentId;
  }

  synchronized void connected(Object connection, String remoteAddress) {
    this.connection = connection;
    this.remoteAddress = remoteAddress;
    this.lastSeen = Instant.now();
  }

  /** Marks the agent disconnected unless a newer connection replaced {@code connection}. */
  synchronized void disconnected(Object connection) {
    if (this.connection == connection) {
      this.connection = null;
    }
  }

  synchronized void hello(String name, String role, long version, String hash, boolean current) {
    this.name = name;
    this.role = role;
    if (current) {
      this.ackedVersion = version;
      this.ackedHash = hash;
      this.ackedHashMatches = true;
    }
    seen();
  }

  synchronized void seen() {
    lastSeen = Instant.now();
  }

  synchronized void acked(long version, String hash, boolean matches) {
    ackedVersion = version;
    ackedHash = hash;
    ackedHashMatches = matches;
    seen();
  }

  synchronized void nacked(PushAgentStatus.Nack nack) {
    lastNack = nack;
    nacks++;
    seen();
  }

  synchronized void sent(boolean snapshot) {
    if (snapshot) {
      snapshotsSent++;
    } else {
      deltasSent++;
    }
  }

  synchronized PushAgentStatus status(long currentVersion) {
    return new PushAgentStatus(agentId, name, role, remoteAddress, connection != null, lastSeen, ackedVersion,
        Optional.ofNullable(ackedHash), ackedHashMatches, Math.max(0, currentVersion - ackedVersion),
        Optional.ofNullable(lastNack), nacks, snapshotsSent, deltasSent);
  }
}
