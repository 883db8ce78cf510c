/**
 * The {@code conduit} command: picocli commands ({@link dev.conduit.cli.ConduitCommand}), the YAML
 * configuration ({@link dev.conduit.cli.config.ConfigLoader}) and the logback setup.
 */
module dev.conduit.cli {
  requires transitive dev.conduit.core;
  requires transitive dev.conduit.netfilter;
  requires dev.conduit.mitm;
  requires transitive info.picocli;
  requires org.snakeyaml.engine.v2;
  requires com.fasterxml.jackson.dataformat.toml;
  requires java.net.http; // cache ls/purge/pin through a running server's admin endpoint
  requires org.slf4j;
  requires ch.qos.logback.classic;
  requires ch.qos.logback.core;
  requires io.netty.handler;
  requires micrometer.core;
  requires com.fasterxml.jackson.databind; // conduit-core's control plane (optional there)
  requires micrometer.registry.prometheus;
  requires jdk.unsupported; // sun.misc.Signal: drain on SIGTERM and exit 0

  exports dev.conduit.cli;
  exports dev.conduit.cli.config;

  // picocli instantiates and injects the commands reflectively
  opens dev.conduit.cli to info.picocli;
  opens dev.conduit.cli.command to info.picocli;
}
