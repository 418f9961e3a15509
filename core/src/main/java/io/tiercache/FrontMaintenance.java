package io.tiercache;

import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.function.BiFunction;
import org.jspecify.annotations.Nullable;

/**
 * The front tier's executor for Caffeine's maintenance: a write runs the maintenance it schedules
 * itself; a read hands it to the common pool, as Caffeine does by default.
 *
 * <p>Why: once the tier is full, every value it takes in (read from the store, loaded) evicts, and
 * every write schedules a drain. On the pool, that is a thread wake-up per write: 22% of a
 * Chronicle store get's samples went to {@code Unsafe.unpark}, and on two cores the woken thread
 * takes its core from the writer. The drain a write needs is short and the writer is already
 * paying for a write. A read keeps the pool: draining read buffers on the readers halved raw
 * Caffeine's read throughput at two threads.
 */
final class FrontMaintenance implements Executor {
  static final FrontMaintenance INSTANCE = new FrontMaintenance();

  /** How deep this thread is in front-tier writes (a compute may write to another cache). */
  private static final ThreadLocal<int[]> WRITING = ThreadLocal.withInitial(() -> new int[1]);

  private FrontMaintenance() {}

  /** {@code map.compute}, with the maintenance it schedules run on this thread. */
  static <K, V> @Nullable V compute(ConcurrentMap<K, V> map, K key,
      BiFunction<? super K, ? super @Nullable V, ? extends @Nullable V> remapping) {
    int[] depth = WRITING.get();
    depth[0]++;
    try {
      return map.compute(key, remapping);
    } finally {
      depth[0]--;
    }
  }

  @Override
  public void execute(Runnable task) {
    if (WRITING.get()[0] > 0) {
      task.run();
    } else {
      ForkJoinPool.commonPool().execute(task);
    }
  }
}
