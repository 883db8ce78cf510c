package dev.conduit.core.outbound;

import static java.util.Objects.requireNonNull;

import java.util.ArrayList;
import java.util.List;

/**
 * A named way out: direct, or a chain of {@link Hop}s where each hop is reached through the
 * previous one and the last one connects to the destination.
 *
 * <pre>{@code
 * Outbound chain = Outbound.builder("via-corp")
 *     .hop(Hop.parse("socks5://10.0.0.3:1080"))
 *     .hop(Hop.parse("http://proxy.corp:3128"))   // reached through the SOCKS5 hop
 *     .build();
 * }</pre>
 */
public final class Outbound {

  /** The name of the built-in direct outbound. */
  public static final String DIRECT = "direct";

  private final String name;
  private final List<Hop> hops;

  private Outbound(String name, List<Hop> hops) {
    this.name = name;
    this.hops = List.copyOf(hops);
  }

  /** An outbound that dials destinations directly. */
  public static Outbound direct(String name) {
    return new Outbound(checkName(name), List.of());
  }

  /** A builder for an outbound with this name. */
  public static Builder builder(String name) {
    return new Builder(checkName(name));
  }

  private static String checkName(String name) {
    requireNonNull(name, "name");
    if (name.isBlank()) {
      throw new IllegalArgumentException("name: blank (expected: an outbound name)");
    }
    return name;
  }

  /** The outbound's name, referenced by {@code RouteDecision.via(name)}. */
  public String name() {
    return name;
  }

  /** The hops, first to last; empty for a direct outbound. */
  public List<Hop> hops() {
    return hops;
  }

  /** Whether this outbound dials directly. */
  public boolean isDirect() {
    return hops.isEmpty();
  }

  @Override
  public String toString() {
    return "Outbound[" + name + (hops.isEmpty() ? ": direct" : ": " + hops) + "]";
  }

  /** Builds an {@link Outbound}. */
  public static final class Builder {
    private final String name;
    private final List<Hop> hops = new ArrayList<>();

    private Builder(String name) {
      this.name = name;
    }

    /** Appends a hop; the first hop is dialed directly, each next one through the previous. */
    public Builder hop(Hop hop) {
      hops.add(requireNonNull(hop, "hop"));
      return this;
    }

    /**
     * Builds the outbound.
     *
     * @throws IllegalArgumentException if a {@linkplain Hop#multiplex() multiplexed} hop is not the only hop
     */
    public Outbound build() {
      for (int i = 0; i < hops.size(); i++) {
        if (hops.get(i).multiplex() && hops.size() > 1) {
          throw new IllegalArgumentException("outbound " + name + ": hop " + i + " is multiplexed and the outbound has "
              + hops.size() + " hops (expected: a multiplexed hop is an outbound's only hop; its streams share "
              + "pooled connections that cannot be reached through another hop)");
        }
      }
      return new Outbound(name, hops);
    }
  }
}
