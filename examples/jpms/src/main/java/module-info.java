/** An application that embeds conduit as a JPMS module: it requires conduit's core, nothing else. */
module dev.conduit.examples.jpms {
  requires dev.conduit.core;
}
