package dev.conduit.core.egress.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.push.PushAgentStatus;
import dev.conduit.core.control.store.AuditEntry;
import dev.conduit.core.egress.EgressEntry;
import dev.conduit.core.egress.EntryKind;
import dev.conduit.core.egress.ResolvedAddress;
import dev.conduit.core.net.IpAddress;
import dev.conduit.core.net.IpPrefix;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** The JSON shapes of the egress server's API (conduit's and the seed-compatible one). */
final class EgressJson {

  static final ObjectMapper MAPPER = new ObjectMapper();
  static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  private EgressJson() {}

  static ObjectNode entry(EgressEntry e, GatewayReports reports) {
    ObjectNode o = JSON.objectNode();
    o.put("id", e.id());
    o.put("value", e.value().text());
    o.put("kind", e.value().kind().label());
    ArrayNode ports = o.putArray("ports");
    e.ports().forEach(ports::add);
    o.put("nonDeletable", e.nonDeletable());
    o.put("comment", e.comment());
    o.put("createdAt", e.createdAt().toString());
    o.put("createdBy", e.createdBy());
    putOptional(o, "lastResolvedAt", e.lastResolvedAt().map(Instant::toString));
    putOptional(o, "lastError", e.lastError());
    ArrayNode addresses = o.putArray("addresses");
    for (ResolvedAddress a : e.addresses()) {
      ObjectNode ao = addresses.addObject();
      ao.put("address", a.address().toString());
      ao.put("firstSeen", a.firstSeen().toString());
      ao.put("lastSeen", a.lastSeen().toString());
      ao.put("state", a.state());
      putOptional(ao, "graceUntil", a.graceUntil().map(Instant::toString));
    }
    long bytes = 0;
    long packets = 0;
    for (GatewayReports.Report r : reports.reports()) {
      for (Map.Entry<IpAddress, long[]> c : r.counters().entrySet()) {
        if (matches(e, c.getKey())) {
          bytes += c.getValue()[0] + c.getValue()[1];
          packets += c.getValue()[2] + c.getValue()[3];
        }
      }
    }
    o.put("bytes", bytes);
    o.put("packets", packets);
    return o;
  }

  static boolean matches(EgressEntry e, IpAddress address) {
    Optional<IpPrefix> prefix = e.value().prefix();
    if (prefix.isPresent()) {
      return prefix.get().contains(address);
    }
    return e.addresses().stream().anyMatch(a -> a.address().equals(address));
  }

  static ObjectNode traffic(List<EgressEntry> entries, GatewayReports reports) {
    ObjectNode root = JSON.objectNode();
    ArrayNode list = root.putArray("addresses");
    for (GatewayReports.Report r : reports.reports()) {
      for (Map.Entry<IpAddress, long[]> c : r.counters().entrySet()) {
        ObjectNode o = list.addObject();
        o.put("address", c.getKey().toString());
        ArrayNode names = o.putArray("entries");
        entries.stream().filter(e -> matches(e, c.getKey())).forEach(e -> names.add(e.value().text()));
        o.put("bytesIn", c.getValue()[0]);
        o.put("bytesOut", c.getValue()[1]);
        o.put("packetsIn", c.getValue()[2]);
        o.put("packetsOut", c.getValue()[3]);
        o.put("gateway", r.gateway());
        o.put("updatedAt", r.at().toString());
      }
    }
    return root;
  }

  static ObjectNode audit(List<AuditEntry> lines) {
    ObjectNode root = JSON.objectNode();
    ArrayNode list = root.putArray("audit");
    for (AuditEntry a : lines) {
      ObjectNode o = list.addObject();
      o.put("at", a.at().toString());
      o.put("actor", a.actor());
      o.put("action", a.action());
      o.put("subject", a.subject());
      o.put("detail", a.detail());
    }
    return root;
  }

  static ObjectNode gateways(List<PushAgentStatus> agents, GatewayReports reports) {
    ObjectNode root = JSON.objectNode();
    ArrayNode list = root.putArray("gateways");
    for (PushAgentStatus a : agents) {
      ObjectNode o = list.addObject();
      o.put("name", a.name().isEmpty() ? a.agentId() : a.name());
      o.put("connected", a.connected());
      o.put("appliedVersion", a.ackedVersion());
      o.put("mode", reports.reports().stream().filter(r -> r.gateway().equals(a.agentId())).findFirst()
          .map(GatewayReports.Report::mode).orElse("enforce"));
      o.put("lastSeen", a.lastSeen().toString());
    }
    return root;
  }

  /** Seed 003's {@code /show-all}: one record per address, as its gorm rows. */
  static ObjectNode seedRecords(List<EgressEntry> entries) {
    ObjectNode root = JSON.objectNode();
    ArrayNode list = root.putArray("Records");
    long id = 1;
    for (EgressEntry e : entries) {
      boolean ip = e.value().kind() == EntryKind.ADDRESS || e.value().kind() == EntryKind.PREFIX;
      List<String> addresses = ip ? List.of(e.value().text())
          : e.addresses().stream().map(a -> a.address().toString()).toList();
      for (String address : addresses.isEmpty() ? List.of("") : addresses) {
        ObjectNode o = list.addObject();
        o.put("ID", id++);
        o.put("Types", ip ? "IP" : "Domain");
        o.put("IP", address);
        o.put("Name", e.value().text());
        o.put("IsNoDel", e.nonDeletable());
        o.put("IsLocalNet", false);
        o.put("CreatedAt", e.createdAt().toString());
      }
    }
    return root;
  }

  static ObjectNode error(String message) {
    return JSON.objectNode().put("error", message);
  }

  static ObjectNode seedReply(String info, boolean success) {
    return JSON.objectNode().put("info", info).put("status", success ? "success" : "failed");
  }

  static String text(JsonNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void putOptional(ObjectNode o, String name, Optional<String> value) {
    if (value.isPresent()) {
      o.put(name, value.get());
    } else {
      o.putNull(name);
    }
  }
}
