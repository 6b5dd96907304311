package io.kvd.bench;

import com.google.protobuf.ByteString;
import io.kvd.core.NodeConfig;
import java.util.SplittableRandom;

/**
 * Values: slices of one random block made once, so that generating a value costs nothing but a
 * view (ByteString shares the block); lengths uniform in [min, max].
 */
final class Values {
  private static final ByteString BLOCK;

  static {
    byte[] block = new byte[NodeConfig.VALUE_LENGTH_MAX * 4];
    new SplittableRandom(431).nextBytes(block);
    BLOCK = ByteString.copyFrom(block);
  }

  private Values() {}

  static ByteString slice(SplittableRandom random, int lengthMin, int lengthMax) {
    int length = lengthMin == lengthMax ? lengthMin : random.nextInt(lengthMin, lengthMax + 1);
    int offset = random.nextInt(BLOCK.size() - length + 1);
    return BLOCK.substring(offset, offset + length);
  }
}
