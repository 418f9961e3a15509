package io.tiercache;

import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Lets a key read from the persistent tier into a bounded front tier on its second read within a
 * window, not on its first: TinyLFU's doorkeeper (Einziger, Friedman and Manes), as RocksDB's
 * secondary cache admits a block on its second access. A key read once and not again before about as
 * many other keys were read as the front tier holds is one an LRU front tier of that size would have
 * evicted unread, and taking it in costs an insert and the eviction it causes: about what the read
 * itself costs from a memory-mapped store. Chronicle store gets, 1M entries, front tier bounded at 10k,
 * keys uniform, 3 forks each: 3.10 us taking in every read, 2.88 us with this (about one read in
 * twelve taken in), raw Chronicle Map 2.43 us.
 *
 * <p>Only while the front tier is at least half full, as Caffeine sizes its frequency sketch: before,
 * a value taken in evicts nothing, and the bits are not allocated, so a bound set high costs nothing
 * until the tier fills. The window is counted in keys, sized when the bits are allocated at twice the
 * entries the half-full tier holds: its maximum size for a size bound, and for a weight bound the
 * entries that fit at the weights seen so far.
 *
 * <p>One bit per key hash, 8 bits per entry of the window; the bits are cleared when a key would set
 * more than an eighth of them, so a key collides with one seen before, and is taken in on its first
 * read, at most one time in eight (one in sixteen on average).
 *
 * <p>Not synchronized, on purpose, like Caffeine's lossy read buffers: a racing update that is lost
 * makes a key wait one read more, a clear racing a set may keep that bit, and two racing first
 * allocations keep one array (each read sizes itself from the array it holds). Either changes only
 * which tier serves a read, never the value read.
 */
final class Doorkeeper {
  /** 2^26 bits, 8 MiB: enough for windows of up to 8M keys; larger ones share bits. */
  private static final int MAX_BITS_LOG2 = 26;

  private final long halfFull;
  /**
   * Allocated by the first read that needs them; a racing read may allocate another (it loses bits).
   * Volatile for the array's publication only (its length sizes every read); the bits are plain.
   */
  private volatile long @Nullable [] words;
  private int set;

  /** For a front tier bounded at {@code bound}: its maximum size, or its maximum weight. */
  Doorkeeper(long bound) {
    this.halfFull = bound >>> 1;
  }

  /**
   * True when a key read from the store may enter a front tier that uses {@code used} of its bound
   * (entries, or weight) with {@code entries} entries: while it is less than half full, or when
   * {@code key} was read since the bits were last cleared; otherwise remembers {@code key} and returns
   * false.
   */
  boolean admit(Object key, long used, long entries) {
    if (used < halfFull) {
      return true;
    }
    long[] words = this.words;
    if (words == null) {
      this.words = words = new long[1 << (bitsLog2(2 * entries) - 6)];
    }
    int log2 = 6 + Integer.numberOfTrailingZeros(words.length);
    int bit = (int) (mix(key.hashCode()) >>> (64 - log2));
    int word = bit >>> 6;
    long mask = 1L << bit;
    long bits = words[word];
    if ((bits & mask) != 0) {
      return true;
    }
    if (++set > words.length << 3) { // an eighth of the bits: the key that fills the window opens the next one
      Arrays.fill(words, 0L);
      set = 1;
    }
    words[word] |= mask;
    return false;
  }

  /** 8 bits per key of a window of {@code window} keys, rounded up to a power of two within bounds. */
  static int bitsLog2(long window) {
    long bits = Math.max(64, 8 * Math.min(Math.max(window, 0), 1L << MAX_BITS_LOG2));
    return Math.min(64 - Long.numberOfLeadingZeros(bits - 1), MAX_BITS_LOG2);
  }

  /**
   * SplitMix64's finalizer: keys with structured hash codes (names that differ in their last digits)
   * collided with each other one time in four under a multiplicative hash's top bits.
   */
  private static long mix(long hash) {
    long z = (hash ^ (hash >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** The number of bits, 0 until they are allocated; for tests. */
  int bits() {
    long[] words = this.words;
    return words == null ? 0 : words.length << 6;
  }
}
