package io.kvd.client;

/** A value with its version, as GET returns them. */
public record Versioned(byte[] value, int version) {}
