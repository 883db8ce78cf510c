package dev.conduit.core.control.push;

/**
 * Installs the state a {@link PushClient} receives (e.g. renders a membership into ipsets). Called on one
 * dedicated thread of the client, one update at a time, so it may block (kernel calls, file I/O); the next update
 * waits until it returns.
 */
@FunctionalInterface
public interface PushApplier {

  /**
   * Installs {@code update} and returns a hash of what was installed, which the client reports to the server in
   * its acknowledgement ({@code update.state().hash()} when the installed form is the state itself). Throwing
   * rejects the update: the client keeps the previous state and reports the exception's message to the server as
   * a NACK.
   *
   * @throws Exception if the update could not be installed
   */
  String apply(PushUpdate update) throws Exception;
}
