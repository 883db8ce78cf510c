package dev.conduit.core.control.push;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Receives the {@code report} payloads agents send (their facts, e.g. their addresses). Called on the server's
 * report executor ({@link PushServer.Builder#reportExecutor}), in the order each agent sent them.
 */
@FunctionalInterface
public interface PushReportListener {

  /** Handles {@code payload} from the agent admitted as {@code agentId}. */
  void onReport(String agentId, JsonNode payload);
}
