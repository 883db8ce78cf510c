package dev.conduit.core.control.push;

import static java.util.Objects.requireNonNull;

import java.time.Instant;
import java.util.Optional;

/**
 * What a {@link PushServer} knows of one agent, for status commands and metrics.
 *
 * @param agentId the identity the {@link PushAuthorizer} admitted the agent under
 * @param name the name the agent gave in its hello (empty before it)
 * @param role the role the agent gave in its hello (empty before it)
 * @param remoteAddress the address of its latest connection
 * @param connected whether it is connected now
 * @param lastSeen when it last sent anything (a message or a heartbeat) or connected
 * @param ackedVersion the latest version it acknowledged as applied (0 for none)
 * @param ackedHash the hash of what it installed for {@code ackedVersion}, as it reported it
 * @param ackedHashMatches whether {@code ackedHash} equals the hash of that version's state (false when the agent
 *     installs a derived form and reports its hash, or when it drifted)
 * @param lag how many versions the agent is behind the server's current one (0 when in step)
 * @param lastNack the latest update it rejected, if any
 * @param nacks how many updates it rejected since the server started
 * @param snapshotsSent how many full snapshots it was sent
 * @param deltasSent how many deltas it was sent
 */
public record PushAgentStatus(String agentId, String name, String role, String remoteAddress, boolean connected,
    Instant lastSeen, long ackedVersion, Optional<String> ackedHash, boolean ackedHashMatches, long lag,
    Optional<Nack> lastNack, long nacks, long snapshotsSent, long deltasSent) {

  /** Checks the components. */
  public PushAgentStatus {
    requireNonNull(agentId, "agentId");
    requireNonNull(name, "name");
    requireNonNull(role, "role");
    requireNonNull(remoteAddress, "remoteAddress");
    requireNonNull(lastSeen, "lastSeen");
    requireNonNull(ackedHash, "ackedHash");
    requireNonNull(lastNack, "lastNack");
  }

  /**
   * An update an agent rejected.
   *
   * @param rejectedVersion the version it was sent
   * @param goodVersion the version it still has installed
   * @param errorDetail why, in the agent's words
   * @param at when the server received the rejection
   */
  public record Nack(long rejectedVersion, long goodVersion, String errorDetail, Instant at) {

    /** Checks the components. */
    public Nack {
      requireNonNull(errorDetail, "errorDetail");
      requireNonNull(at, "at");
    }
  }
}
