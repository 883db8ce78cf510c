module dev.conduit.cli {
  requires dev.conduit.core;
  requires dev.conduit.netfilter;
  requires dev.conduit.mitm;
  requires info.picocli;
  requires org.snakeyaml.engine.v2;
  requires org.slf4j;
  requires ch.qos.logback.classic;
}
