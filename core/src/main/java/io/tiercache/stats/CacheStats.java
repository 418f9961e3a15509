package io.tiercache.stats;

/**
 * A snapshot of a {@link io.tiercache.TieredCache}'s statistics, counted from when it was opened in
 * this JVM, by tier: reads answered from memory (the front tier), reads answered by the persistent
 * tier (the files, Chronicle Map or Redis), and misses. All zero unless the builder called
 * {@code recordStats()}, except the store's own counters ({@link #compactionCount},
 * {@link #lockWaitTime}), which every store that keeps them reports.
 *
 * <pre>{@code
 * CacheStats s = cache.stats();
 * double hitRate = s.hitRate();                  // (front + persistent hits) / requests
 * long fromDisk = s.persistentHitCount();        // reads that decoded a stored value
 * Duration loading = Duration.ofNanos(s.totalLoadTime());
 * }</pre>
 *
 * @param frontHitCount reads answered by the front tier's decoded value
 * @param persistentHitCount reads the front tier missed and the persistent tier answered
 * @param missCount reads that found no current value in either tier (whether or not a loader ran)
 * @param loadSuccessCount loader calls (single, bulk, async or refresh) that returned a value
 * @param loadFailureCount loader calls that threw or returned null
 * @param totalLoadTime nanoseconds spent in loaders, successful or not (not storing their results)
 * @param staleCount expired values served because a loader failed ({@code staleIfError})
 * @param evictionCount entries the front tier evicted for its size or weight bound
 * @param evictionWeight the weight of those entries
 * @param putCount values written to the persistent tier by this cache: puts, loaded values,
 *     {@code replaceAll}'s entries and map-view writes
 * @param compactionCount compactions of the store (JSON store: journal folded into the snapshot;
 *     Chronicle store: purges of expired entries), by every cache on the store in this JVM
 * @param lockWaitTime nanoseconds spent waiting for the inter-process lock, by every cache on the
 *     store in this JVM
 */
public record CacheStats(
    long frontHitCount,
    long persistentHitCount,
    long missCount,
    long loadSuccessCount,
    long loadFailureCount,
    long totalLoadTime,
    long staleCount,
    long evictionCount,
    long evictionWeight,
    long putCount,
    long compactionCount,
    long lockWaitTime) {

  private static final CacheStats EMPTY = new CacheStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);

  /** @throws IllegalArgumentException if a count is negative */
  public CacheStats {
    long[] all = {frontHitCount, persistentHitCount, missCount, loadSuccessCount, loadFailureCount, totalLoadTime,
        staleCount, evictionCount, evictionWeight, putCount, compactionCount, lockWaitTime};
    for (long count : all) {
      if (count < 0) {
        throw new IllegalArgumentException("statistics must not be negative: " + java.util.Arrays.toString(all));
      }
    }
  }

  /** All zero. */
  public static CacheStats empty() {
    return EMPTY;
  }

  /** Reads that found a current value, in either tier. */
  public long hitCount() {
    return frontHitCount + persistentHitCount;
  }

  /** Every read: hits and misses. */
  public long requestCount() {
    return saturatedAdd(hitCount(), missCount);
  }

  /** {@code hitCount / requestCount}, or 1 when there was no request (as Caffeine reports it). */
  public double hitRate() {
    long requests = requestCount();
    return requests == 0 ? 1.0 : (double) hitCount() / requests;
  }

  /** {@code missCount / requestCount}, or 0 when there was no request. */
  public double missRate() {
    long requests = requestCount();
    return requests == 0 ? 0.0 : (double) missCount / requests;
  }

  /** Loader calls, successful or not. */
  public long loadCount() {
    return saturatedAdd(loadSuccessCount, loadFailureCount);
  }

  /** The mean nanoseconds per loader call, or 0 when none ran. */
  public double averageLoadPenalty() {
    long loads = loadCount();
    return loads == 0 ? 0.0 : (double) totalLoadTime / loads;
  }

  /** The difference {@code this - other}, each count floored at zero: what happened in between two snapshots. */
  public CacheStats minus(CacheStats other) {
    return new CacheStats(
        Math.max(0, frontHitCount - other.frontHitCount),
        Math.max(0, persistentHitCount - other.persistentHitCount),
        Math.max(0, missCount - other.missCount),
        Math.max(0, loadSuccessCount - other.loadSuccessCount),
        Math.max(0, loadFailureCount - other.loadFailureCount),
        Math.max(0, totalLoadTime - other.totalLoadTime),
        Math.max(0, staleCount - other.staleCount),
        Math.max(0, evictionCount - other.evictionCount),
        Math.max(0, evictionWeight - other.evictionWeight),
        Math.max(0, putCount - other.putCount),
        Math.max(0, compactionCount - other.compactionCount),
        Math.max(0, lockWaitTime - other.lockWaitTime));
  }

  private static long saturatedAdd(long a, long b) {
    long sum = a + b;
    return ((a ^ sum) & (b ^ sum)) < 0 ? Long.MAX_VALUE : sum;
  }
}
