package dev.conduit.core.mesh.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.conduit.core.control.enrol.internal.ManagerCalls;

/**
 * A JSON answer.
 *
 * @param status the HTTP status
 * @param body the JSON body
 */
public record ApiResponse(int status, JsonNode body) {

  /** An error answer: {@code {"error": message}}. */
  public static ApiResponse error(int status, String message) {
    ObjectNode body = ManagerCalls.JSON.createObjectNode();
    body.put("error", message);
    return new ApiResponse(status, body);
  }
}
