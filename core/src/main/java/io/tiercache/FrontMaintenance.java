package io.tiercache;

import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiFunction;
import org.jspecify.annotations.Nullable;

/**
 * One front tier's executor for Caffeine's maintenance: a write runs the maintenance it schedules
 * itself; maintenance scheduled outside a write (a read that filled Caffeine's read buffer) waits
 * for the next write or for the first hit in a later clock millisecond, and runs on that thread.
 * Nothing is handed to another thread.
 *
 * <p>Why: once the tier is full, every value it takes in (read from the store, loaded) evicts, and
 * every write schedules a drain. On the pool, that is a thread wake-up per write: 22% of a
 * Chronicle store get's samples went to {@code Unsafe.unpark}, and on two cores the woken thread
 * takes its core from the writer. The drain a write needs is short and the writer is already
 * paying for a write. A read's drain is not urgent (it only records what was read, and Caffeine
 * drops reads while one is pending): handed to the pool, it woke a thread every 16 hits, which
 * cost a hit more than the lookup did (raw Caffeine with one clock read per hit: 3.7-3.9 ops/us at
 * one thread, 17 with the drains deferred); run by every reader, the drains contended across
 * cores (8 ops/us at two threads against 46 on the pool). At most one per millisecond does
 * neither.
 */
final class FrontMaintenance implements Executor {
  /** How deep this thread is in front-tier writes (a compute may write to another cache). */
  private static final ThreadLocal<int[]> WRITING = ThreadLocal.withInitial(() -> new int[1]);

  /** The maintenance scheduled outside a write, not run yet (Caffeine schedules one at a time). */
  private final AtomicReference<@Nullable Runnable> deferred = new AtomicReference<>();
  /** The clock reading of the last hit that ran deferred maintenance; racy: an extra run is harmless. */
  private long lastRunMillis = Long.MIN_VALUE;

  /** {@code map.compute}, with the maintenance it schedules, and any deferred, run on this thread. */
  <K, V> @Nullable V compute(ConcurrentMap<K, V> map, K key,
      BiFunction<? super K, ? super @Nullable V, ? extends @Nullable V> remapping) {
    int[] depth = WRITING.get();
    depth[0]++;
    try {
      return map.compute(key, remapping);
    } finally {
      depth[0]--;
      runDeferred();
    }
  }

  /**
   * Whether this thread is inside a front-tier compute, of any cache: a read there (a compute function
   * reading the cache) must not lock another key of a front tier, which a compute reading the other
   * way may hold.
   */
  static boolean computing() {
    return WRITING.get()[0] > 0;
  }

  /** After a hit read at {@code nowMillis}: runs deferred maintenance if none ran this millisecond. */
  void afterHit(long nowMillis) {
    if (deferred.get() != null && nowMillis != lastRunMillis) {
      lastRunMillis = nowMillis;
      runDeferred();
    }
  }

  private void runDeferred() {
    // Read first: every front-tier write comes here, and an exchange would cost each one an atomic write.
    if (deferred.get() != null) {
      Runnable task = deferred.getAndSet(null);
      if (task != null) {
        task.run();
      }
    }
  }

  @Override
  public void execute(Runnable task) {
    // A second task while one waits (Caffeine schedules its drain once; anything else is rare) runs now.
    if (WRITING.get()[0] > 0 || !deferred.compareAndSet(null, task)) {
      task.run();
    }
  }
}
