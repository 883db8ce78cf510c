package dev.conduit.cli.archfixture;

import dev.conduit.cli.archfixture.internal.Hidden;
import java.util.List;

/** ArchitectureTest's fixture: a public type that shows an internal one in its API, and one that only uses it. */
public final class Leaky {
  /** Shows the internal type in a generic return type. */
  public List<Hidden> hidden() {
    return List.of(new Hidden());
  }

  /** Uses the internal type inside only: allowed. */
  public int count() {
    return hidden().size();
  }

  private Hidden privately() {
    return new Hidden();
  }
}
