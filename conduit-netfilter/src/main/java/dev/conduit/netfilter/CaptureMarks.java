package dev.conduit.netfilter;

/**
 * The marks and policy routing of {@link CapturePlan.Builder}: the bypass mark of conduit's own
 * sockets, TPROXY's mark, routing table and rule priority, and the divert of established flows.
 *
 * @param <B> the builder type returned by every setter
 */
abstract class CaptureMarks<B extends CaptureMarks<B>> extends CaptureSelection<B> {
  int bypassMark = 0x5a4;
  int bypassMask = 0xffffffff;
  int tproxyMark = 0x1;
  int tproxyMask = 0x1;
  int routingTable = 100;
  int routingRulePriority = 100;
  boolean divertEstablished = true;

  CaptureMarks() {}

  /**
   * Sets the mark of conduit's own outbound sockets (default {@code 0x5a4}, compared with mask
   * {@code 0xffffffff}).
   *
   * @param mark the mark
   * @return this builder
   */
  public final B bypassMark(int mark) {
    return bypassMark(mark, 0xffffffff);
  }

  /**
   * Sets the mark of conduit's own outbound sockets and the mask used to compare it.
   *
   * @param mark the mark, non-zero within the mask
   * @param mask the mask
   * @return this builder
   */
  public final B bypassMark(int mark, int mask) {
    if (mask == 0 || (mark & mask) == 0 || (mark & ~mask) != 0) {
      throw new IllegalArgumentException("bypassMark: " + CapturePlan.hex(mark) + "/" + CapturePlan.hex(mask)
          + " (expected: a non-zero mark within a non-zero mask)");
    }
    bypassMark = mark;
    bypassMask = mask;
    return self();
  }

  /**
   * Sets the TPROXY mark and mask (default {@code 0x1/0x1}); the policy routing rule matches it.
   *
   * @param mark the mark, non-zero within the mask
   * @param mask the mask
   * @return this builder
   */
  public final B tproxyMark(int mark, int mask) {
    if (mask == 0 || (mark & mask) == 0 || (mark & ~mask) != 0) {
      throw new IllegalArgumentException("tproxyMark: " + CapturePlan.hex(mark) + "/" + CapturePlan.hex(mask)
          + " (expected: a non-zero mark within a non-zero mask)");
    }
    tproxyMark = mark;
    tproxyMask = mask;
    return self();
  }

  /**
   * Sets the policy routing table of TPROXY mode (default 100).
   *
   * @param table 1-252 or 256-2147483647 (253-255 are the kernel's default/main/local)
   * @return this builder
   */
  public final B routingTable(int table) {
    if (table < 1 || (table >= 253 && table <= 255)) {
      throw new IllegalArgumentException(
          "routingTable: " + table + " (expected: 1-252 or above 255)");
    }
    routingTable = table;
    return self();
  }

  /**
   * Sets the priority of TPROXY mode's {@code ip rule} (default 100).
   *
   * @param priority 1-32765
   * @return this builder
   */
  public final B routingRulePriority(int priority) {
    if (priority < 1 || priority > 32765) {
      throw new IllegalArgumentException(
          "routingRulePriority: " + priority + " (expected: 1-32765)");
    }
    routingRulePriority = priority;
    return self();
  }

  /**
   * Diverts packets of established flows that belong to a transparent socket straight to it
   * ({@code -m socket --transparent}, TPROXY mode; default on).
   *
   * @param enabled whether to add the divert rule
   * @return this builder
   */
  public final B divertEstablished(boolean enabled) {
    divertEstablished = enabled;
    return self();
  }
}
