package io.kvd.server;

/**
 * How the node splits its heap. Everything the node keeps (the store's records and table, the
 * reply cache, the table of per-source limits) lives on the heap and is counted; the rest of the heap is a reserve for the JVM's
 * own objects, Netty's bookkeeping, request decoding and the collector's working room.
 *
 * <pre>
 * storeLengthMax = heapMax - reserveLength - replyCacheLength - sourceTableLength
 * reserveLength  = max(RESERVE_LENGTH_MIN, heapMax / 8)     unless --heap-reserve-mib sets it
 * </pre>
 *
 * With -Xmx64m and the defaults: 64 - 12 - 6 = 46 MiB for the store. The reserve was measured:
 * kvd's live heap with an empty store is about 4 MiB, and G1 needs a few free 1 MiB regions to
 * copy survivors into; 12 MiB left the capacity test free of full-GC storms.
 *
 * <p>Netty's receive and send buffers are off the heap, transient, and capped by the launcher's
 * -XX:MaxDirectMemorySize; they hold datagrams in flight, never stored data.
 *
 * @param heapMax the JVM's maximum heap, in bytes
 * @param reserveLength bytes left for everything that is not stored data
 * @param replyCacheLength bytes of the reply cache
 * @param sourceTableLength bytes of the table of per-source limits (io.kvd.core.SourceLimits),
 *     0 when they are off; 512 KiB at the default size
 */
public record MemoryBudget(long heapMax, long reserveLength, long replyCacheLength,
    long sourceTableLength) {
  public static final long MIB = 1L << 20;
  public static final long RESERVE_LENGTH_MIN = 12 * MIB;

  /** The budget for this JVM, with the default reserve when {@code reserveLength} is negative. */
  public static MemoryBudget of(long heapMax, long reserveLength, long replyCacheLength) {
    long reserve = reserveLength >= 0 ? reserveLength : Math.max(RESERVE_LENGTH_MIN, heapMax / 8);
    return new MemoryBudget(heapMax, reserve, replyCacheLength, 0);
  }

  /** This budget with {@code length} bytes for the table of per-source limits. */
  public MemoryBudget withSourceTableLength(long length) {
    return new MemoryBudget(heapMax, reserveLength, replyCacheLength, length);
  }

  /** Bytes the store may hold; throws when the heap cannot fit the reserve and the cache. */
  public long storeLengthMax() {
    long store = heapMax - reserveLength - replyCacheLength - sourceTableLength;
    if (store < MIB) {
      throw new IllegalArgumentException(String.format(
          "heap of %.1f MiB is too small: the reserve (%.1f MiB), the reply cache (%.1f MiB)"
              + " and the source table (%.1f MiB) leave %.1f MiB for data; raise -Xmx or lower"
              + " --reply-cache-mib or --source-table-slots",
          mib(heapMax), mib(reserveLength), mib(replyCacheLength), mib(sourceTableLength),
          mib(store)));
    }
    return store;
  }

  public static double mib(long bytes) {
    return bytes / (double) MIB;
  }
}
