package io.tiercache;

import java.util.concurrent.atomic.LongAdder;

/**
 * What a persistent store counts of its own work for {@link io.tiercache.stats.CacheStats}: its
 * compactions (or its equivalent: the Chronicle store's purges) and the time spent waiting for the
 * inter-process lock. A store that keeps them holds one and returns it from
 * {@link PersistentStore#counters()}; it is shared by every cache on the store.
 */
final class StoreCounters {
  private final LongAdder compactions = new LongAdder();
  private final LongAdder lockWaitNanos = new LongAdder();

  void recordCompaction() {
    compactions.increment();
  }

  void recordLockWait(long nanos) {
    lockWaitNanos.add(nanos);
  }

  long compactions() {
    return compactions.sum();
  }

  long lockWaitNanos() {
    return lockWaitNanos.sum();
  }
}
