package dev.conduit.core.admin;

/**
 * A part of the admin endpoint that a role mounts under a path prefix with
 * {@link AdminServer.Builder#route(String, AdminRoute)}: a cache mounts {@code /cache}, a manager
 * {@code /mesh}, and so on. The endpoint checks authorisation first, reads the request whole, and
 * calls the route on a worker thread (never an event loop), so a route may read files or a
 * database; it should still answer within a few seconds.
 *
 * <p>An exception thrown by a route becomes {@code 500} with its message; an
 * {@link IllegalArgumentException} becomes {@code 400}, so input validation can simply throw.
 */
@FunctionalInterface
public interface AdminRoute {

  /**
   * Answers one request whose path is the mount prefix or lies below it.
   *
   * @param request the request, with the full path (the prefix included)
   * @return the response
   * @throws Exception when the request cannot be answered
   */
  AdminResponse handle(AdminRequest request) throws Exception;
}
