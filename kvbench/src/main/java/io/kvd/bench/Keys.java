package io.kvd.bench;

import java.nio.charset.StandardCharsets;

/** Key names: "k" and the key's index in decimal, as YCSB's "user" keys (at most 20 bytes). */
final class Keys {
  private Keys() {}

  static byte[] name(long index) {
    return ("k" + index).getBytes(StandardCharsets.US_ASCII);
  }
}
