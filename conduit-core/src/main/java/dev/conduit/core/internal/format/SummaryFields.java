package dev.conduit.core.internal.format;

import dev.conduit.core.Destination;
import dev.conduit.core.observe.ConnectionSummary;

/** The fields of a {@link ConnectionSummary}, shared by the access log and the admin API's connection list. */
public final class SummaryFields {
  private SummaryFields() {}

  /**
   * Writes {@code s}'s fields (without resetting or finishing {@code w}): id, listener, protocol,
   * client, principal, destination, dialed, rule, outbound, bytes_in, bytes_out, requests,
   * negotiation_ms, dial_ms, total_ms, outcome, detail.
   */
  public static void write(FieldWriter w, ConnectionSummary s) {
    w.string("id", s.connection().id())
        .string("listener", s.connection().listener())
        .string("protocol", s.connection().protocol())
        .address("client", s.connection().client())
        .string("principal", s.principal().orElse(null))
        .string("destination", s.destination().map(Destination::toString).orElse(null))
        .address("dialed", s.dialed().orElse(null))
        .string("rule", s.rule().orElse(null))
        .string("outbound", s.outbound().orElse(null))
        .number("bytes_in", s.bytesFromClient())
        .number("bytes_out", s.bytesToClient())
        .number("requests", s.requests())
        .millis("negotiation_ms", s.negotiation())
        .millis("dial_ms", s.dial())
        .millis("total_ms", s.total())
        .string("outcome", s.outcome().label())
        .string("detail", s.detail().isEmpty() ? null : s.detail());
  }
}
