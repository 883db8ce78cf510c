package dev.conduit.core.route;

import static java.util.Objects.requireNonNull;

/** What the {@link Router} decided for a request: go direct, go via a named outbound, or reject. */
public sealed interface RouteDecision permits RouteDecision.Direct, RouteDecision.Via, RouteDecision.Reject {

  /** Dial the destination directly. */
  static RouteDecision direct() {
    return Direct.INSTANCE;
  }

  /** Dial through the outbound with this name. */
  static RouteDecision via(String outbound) {
    return new Via(outbound);
  }

  /** Refuse, with a reason for logs and error bodies. */
  static RouteDecision reject(String reason) {
    return new Reject(reason);
  }

  /** Dial directly. */
  enum Direct implements RouteDecision {
    /** The only instance. */
    INSTANCE;

    @Override
    public String toString() {
      return "direct";
    }
  }

  /** Dial through a named outbound. */
  record Via(String outbound) implements RouteDecision {
    /** Checks the components. */
    public Via {
      requireNonNull(outbound, "outbound");
      if (outbound.isBlank()) {
        throw new IllegalArgumentException("outbound: blank (expected: an outbound name)");
      }
    }

    @Override
    public String toString() {
      return "via " + outbound;
    }
  }

  /** Refuse the request. */
  record Reject(String reason) implements RouteDecision {
    /** Checks the components. */
    public Reject {
      requireNonNull(reason, "reason");
    }

    @Override
    public String toString() {
      return "reject (" + reason + ")";
    }
  }
}
