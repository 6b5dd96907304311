package io.kvd.bench;

import java.nio.charset.StandardCharsets;

/**
 * Key names: a prefix ("k" by default) and the key's index in decimal, as YCSB's "user" keys.
 * A run with its own prefix works on keys no earlier run wrote (what --check needs).
 */
final class Keys {
  /** Prefix bytes at most: with a 19-digit index the key stays within 32 bytes. */
  static final int PREFIX_LENGTH_MAX = 12;

  private Keys() {}

  static byte[] name(String prefix, long index) {
    return (prefix + index).getBytes(StandardCharsets.US_ASCII);
  }
}
