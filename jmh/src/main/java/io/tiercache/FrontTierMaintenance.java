package io.tiercache;

import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;

/**
 * The front tier's maintenance ({@link FrontMaintenance}, internal to tiercache) for the benchmarks'
 * raw Caffeine floor, so that the floor runs the same code, not a copy of it.
 */
public final class FrontTierMaintenance implements Executor {
  private final FrontMaintenance maintenance = new FrontMaintenance();

  /** Give this to {@code Caffeine.executor}. */
  @Override
  public void execute(Runnable task) {
    maintenance.execute(task);
  }

  /** Call after each hit, with the clock reading its deadline check made. */
  public void afterHit(long nowMillis) {
    maintenance.afterHit(nowMillis);
  }

  /** A write as the front tier makes it: a compute that runs the maintenance it schedules. */
  public <K, V> void put(ConcurrentMap<K, V> map, K key, V value) {
    maintenance.compute(map, key, (k, old) -> value);
  }
}
