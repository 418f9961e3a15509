package io.tiercache;

import io.tiercache.stats.CacheStats;
import java.util.concurrent.atomic.LongAdder;

/**
 * The counters behind {@link TieredCache#stats()}, one set per front tier. Disabled (every record a
 * no-op) unless the builder called {@code recordStats()}.
 */
final class StatsRecorder {
  private final boolean enabled;
  private final LongAdder frontHits = new LongAdder();
  private final LongAdder persistentHits = new LongAdder();
  private final LongAdder misses = new LongAdder();
  private final LongAdder loadSuccesses = new LongAdder();
  private final LongAdder loadFailures = new LongAdder();
  private final LongAdder loadNanos = new LongAdder();
  private final LongAdder stale = new LongAdder();
  private final LongAdder evictions = new LongAdder();
  private final LongAdder evictionWeight = new LongAdder();
  private final LongAdder puts = new LongAdder();

  StatsRecorder(boolean enabled) {
    this.enabled = enabled;
  }

  boolean enabled() {
    return enabled;
  }

  void recordFrontHit() {
    if (enabled) {
      frontHits.increment();
    }
  }

  void recordPersistentHit() {
    if (enabled) {
      persistentHits.increment();
    }
  }

  void recordMiss() {
    if (enabled) {
      misses.increment();
    }
  }

  void recordLoad(boolean success, long nanos) {
    if (enabled) {
      (success ? loadSuccesses : loadFailures).increment();
      loadNanos.add(nanos);
    }
  }

  void recordStale() {
    if (enabled) {
      stale.increment();
    }
  }

  void recordEviction(int weight) {
    if (enabled) {
      evictions.increment();
      evictionWeight.add(weight);
    }
  }

  void recordPuts(int count) {
    if (enabled) {
      puts.add(count);
    }
  }

  CacheStats snapshot(StoreCounters store) {
    return new CacheStats(frontHits.sum(), persistentHits.sum(), misses.sum(), loadSuccesses.sum(),
        loadFailures.sum(), loadNanos.sum(), stale.sum(), evictions.sum(), evictionWeight.sum(), puts.sum(),
        store.compactions(), store.lockWaitNanos());
  }
}
