package dev.conduit.cli.archfixture.internal;

/** ArchitectureTest's fixture: an internal type. */
public final class Hidden {}
