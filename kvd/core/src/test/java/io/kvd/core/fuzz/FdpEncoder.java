package io.kvd.core.fuzz;

import java.io.ByteArrayOutputStream;

/**
 * Writes the input that makes a {@link com.code_intelligence.jazzer.api.FuzzedDataProvider} return
 * chosen values, for seed files: like libFuzzer's FuzzedDataProvider, Jazzer's takes byte arrays
 * from the front of the input and integers and booleans from its end, the last byte first, one
 * byte per 8 bits of the range {@code max - min} (most significant first), reduced modulo the
 * range plus one. consumeInt() with no range takes its four bytes as they are.
 */
final class FdpEncoder {
  private final ByteArrayOutputStream front = new ByteArrayOutputStream();
  /** Integral bytes in the order they are consumed. */
  private final ByteArrayOutputStream tail = new ByteArrayOutputStream();

  /** What consumeInt(min, max) or consumeLong(min, max) returns next. */
  FdpEncoder integer(long min, long max, long value) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(value + " outside " + min + ".." + max);
    }
    long range = max - min; // unsigned
    long offset = value - min; // unsigned
    int bytes = 0;
    while (bytes < 8 && (range >>> (8 * bytes)) != 0) {
      bytes++;
    }
    for (int i = bytes - 1; i >= 0; i--) {
      tail.write((int) (offset >>> (8 * i)));
    }
    return this;
  }

  /** What consumeInt() returns next: its four bytes as they are (no offset from a minimum). */
  FdpEncoder anyInt(int value) {
    for (int i = 3; i >= 0; i--) {
      tail.write(value >>> (8 * i));
    }
    return this;
  }

  /** What consumeBoolean() returns next. */
  FdpEncoder bool(boolean value) {
    tail.write(value ? 1 : 0);
    return this;
  }

  /** What consumeBytes(n) returns next, n being exactly this length. */
  FdpEncoder bytes(byte[] value) {
    front.writeBytes(value);
    return this;
  }

  byte[] toByteArray() {
    byte[] head = front.toByteArray();
    byte[] ints = tail.toByteArray();
    byte[] input = new byte[head.length + ints.length];
    System.arraycopy(head, 0, input, 0, head.length);
    for (int i = 0; i < ints.length; i++) {
      input[input.length - 1 - i] = ints[i];
    }
    return input;
  }
}
