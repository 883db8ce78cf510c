/** A JUnit 5 extension that runs a conduit proxy for a test class and records what went through it. */
module dev.conduit.junit5 {
  requires transitive dev.conduit.core;
  requires transitive org.junit.jupiter.api;

  exports dev.conduit.junit5;
}
