package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.Assets.Model;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.EnumSet;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A write to a key that lands between {@code replaceAll}'s change to the store and its return wins
 * in this JVM's front tier as it does in the store: the replaced value is not served afterwards.
 * The race is made exact by a store that runs the other writer, on another thread, right after its
 * {@code replaceAll} returns. Likewise a load in flight never lands after a clear or replace: the
 * store's hook holds the load's put until the clearing thread blocks.
 */
class ReplaceAllRaceTest {
  @TempDir Path dir;
  final FakeClock clock = new FakeClock();
  final ExecutorService other = Executors.newSingleThreadExecutor();
  final List<AutoCloseable> opened = new ArrayList<>();
  HookedStore store;

  @AfterEach
  void closeAll() throws Exception {
    other.shutdownNow();
    for (AutoCloseable c : opened) {
      c.close();
    }
  }

  LocalTieredCache<String, Model> open() {
    return open(TieredCache.builder(String.class, Model.class));
  }

  LocalTieredCache<String, Model> open(TieredCacheBuilder<String, Model> builder) {
    CacheConfig<String, Model> config = builder
        .directory(dir).name("models").expireAfter(Duration.ofHours(1)).clock(clock).config();
    if (store == null) {
      StoreProvider provider = config.store().provider();
      provider.location(config.store()); // creates the directory
      store = new HookedStore(provider.open(config.store()));
      opened.add(store);
    }
    LocalTieredCache<String, Model> cache = new LocalTieredCache<>(store, config, "test");
    opened.add(0, cache);
    return cache;
  }

  /** replaceAll({k: replaced}) with {@code write} run on another thread between the store's change and the rest. */
  void replaceAllRacing(LocalTieredCache<String, Model> cache, Runnable write) {
    store.afterWholeWrite = () -> {
      try {
        other.submit(write).get(30, TimeUnit.SECONDS);
      } catch (Exception e) {
        throw new AssertionError(e);
      }
    };
    cache.replaceAll(Map.of("k", Model.of("replaced")));
  }

  LocalTieredCache<String, Model> cacheHoldingOld() {
    LocalTieredCache<String, Model> cache = open();
    cache.put("k", Model.of("old"));
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("old")); // now in the front tier too
    return cache;
  }

  @Test
  void aPutDuringReplaceAllIsWhatThisJvmServesAfterIt() {
    LocalTieredCache<String, Model> cache = cacheHoldingOld();
    replaceAllRacing(cache, () -> cache.put("k", Model.of("newer")));
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("newer"));
    assertThat(open().getIfPresent("k")).as("a fresh front tier on the store").isEqualTo(Model.of("newer"));
  }

  @Test
  void anInvalidateDuringReplaceAllIsWhatThisJvmServesAfterIt() {
    LocalTieredCache<String, Model> cache = cacheHoldingOld();
    replaceAllRacing(cache, () -> cache.invalidate("k"));
    assertThat(cache.getIfPresent("k")).isNull();
    assertThat(open().getIfPresent("k")).isNull();
  }

  @Test
  void aMapPutDuringReplaceAllIsWhatThisJvmServesAfterIt() {
    LocalTieredCache<String, Model> cache = cacheHoldingOld();
    replaceAllRacing(cache, () -> cache.asMap().put("k", Model.of("newer")));
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("newer"));
    assertThat(open().getIfPresent("k")).isEqualTo(Model.of("newer"));
  }

  @Test
  void anotherFrontTiersPutDuringReplaceAllReachesThisOne() {
    LocalTieredCache<String, Model> cache = cacheHoldingOld();
    LocalTieredCache<String, Model> elsewhere = open(); // told of this one's writes through the store's listeners
    replaceAllRacing(cache, () -> elsewhere.put("k", Model.of("newer")));
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("newer"));
  }

  // ---------------------------------------------------------------- loads against whole writes

  /** The operations that change every key at once, as LoadingContractTest.WHOLE_WRITES: none leaves "k". */
  static final Map<String, Consumer<TieredCache<String, Model>>> WHOLE_WRITES = LoadingContractTest.WHOLE_WRITES;

  /** How a load of "k" (already past its loader) reaches the store. */
  enum LoadKind { SINGLE, BULK, REFRESH }

  /**
   * A load whose loader returned before a clear or replace began reaches the store's put while that
   * clear or replace runs on another thread: after the load checked that it still owns its key, before
   * its put. The hook lets the clearing thread run until it blocks (on the cache's lock, or, without
   * one, on the key's front-tier lock after its store change), then lets the put go on. Either the put
   * lands first and is cleared, or the load is superseded: no value loaded before the whole write
   * is served after it.
   */
  @ParameterizedTest
  @CsvSource({"invalidateAll, SINGLE", "replaceAll, SINGLE", "asMapClear, SINGLE",
      "invalidateAll, BULK", "replaceAll, BULK", "asMapClear, BULK",
      "invalidateAll, REFRESH", "replaceAll, REFRESH", "asMapClear, REFRESH"})
  void aLoadThatPassedItsCheckDoesNotSurviveAWholeWrite(String op, LoadKind kind) throws Exception {
    LocalTieredCache<String, Model> cache = open(TieredCache.builder(String.class, Model.class)
        .refreshAfterWrite(Duration.ofMinutes(1)).executor(Runnable::run));
    if (kind == LoadKind.REFRESH) {
      cache.put("k", Model.of("before"));
      assertThat(cache.getIfPresent("k")).isNotNull(); // held, so the next get refreshes it
      clock.advance(Duration.ofMinutes(2));
    }
    Thread clearer = new Thread(() -> WHOLE_WRITES.get(op).accept(cache), "whole-write");
    clearer.setDaemon(true); // on failure it may stay blocked, and must not keep the JVM alive
    store.beforePut = () -> {
      clearer.start();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
      while (!EnumSet.of(Thread.State.BLOCKED, Thread.State.WAITING, Thread.State.TERMINATED)
          .contains(clearer.getState())) {
        if (System.nanoTime() > deadline) {
          throw new AssertionError("the whole write neither blocked nor finished: " + clearer.getState());
        }
        Thread.onSpinWait();
      }
    };
    switch (kind) {
      case SINGLE -> cache.get("k", k -> Model.of("loaded before " + op));
      case BULK -> cache.getAll(List.of("k"), ks -> Map.of("k", Model.of("loaded before " + op)));
      case REFRESH -> assertThat(cache.get("k", k -> Model.of("loaded before " + op))).isEqualTo(Model.of("before"));
    }
    clearer.join(TimeUnit.SECONDS.toMillis(30));
    assertThat(clearer.isAlive()).as("the whole write finished").isFalse();
    assertThat(cache.getIfPresent("k")).as("after " + op + " returned").isNull();
    assertThat(open().getIfPresent("k")).as("in the store").isNull();
  }

  /** The lock that orders loads against whole writes is not held where a loader or a compute function runs. */
  @Test
  void aLoaderOrAComputeFunctionMayClearTheCache() throws Exception {
    LocalTieredCache<String, Model> cache = open();
    cache.put("other", Model.of("other"));
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "clearing");
      t.setDaemon(true); // on failure it stays deadlocked, and must not keep the JVM alive
      return t;
    });
    try {
      assertThat(pool.submit(() -> cache.get("k", k -> {
        cache.invalidateAll();
        return Model.of("k");
      })).get(30, TimeUnit.SECONDS)).isEqualTo(Model.of("k"));
      assertThat(cache.getIfPresent("k")).as("its own clear superseded the load").isNull();
      assertThat(pool.submit(() -> cache.asMap().compute("c", (k, v) -> {
        cache.replaceAll(Map.of("r", Model.of("r")));
        return Model.of("c");
      })).get(30, TimeUnit.SECONDS)).isEqualTo(Model.of("c"));
      assertThat(cache.asMap()).containsOnlyKeys("r", "c");
    } finally {
      pool.shutdown();
    }
  }

  /** The same race on real threads, without hooks: large values widen the window between check and put. */
  @Test
  void loadsRacingWholeWritesOnRealThreadsAreNeverServedAfterThem() throws Exception {
    LocalTieredCache<String, Model> cache = open();
    String large = "x".repeat(200_000);
    List<String> ops = List.copyOf(new java.util.TreeSet<>(WHOLE_WRITES.keySet()));
    List<String> resurrected = new ArrayList<>();
    for (int i = 0; i < 300; i++) {
      String key = "k" + i;
      CountDownLatch loaderReturning = new CountDownLatch(1);
      Thread loader = new Thread(() -> cache.get(key, k -> {
        loaderReturning.countDown();
        return new Model(k, large, Assets.Function.TRANSLATION, Map.of(), List.of(), null, null);
      }));
      loader.setDaemon(true);
      loader.start();
      LoadingContractTest.waitFor(loaderReturning);
      for (int spin = (i % 50) * 200; spin > 0; spin--) {
        Thread.onSpinWait(); // a different point of the load's store each time
      }
      String op = ops.get(i % ops.size());
      WHOLE_WRITES.get(op).accept(cache);
      loader.join(TimeUnit.SECONDS.toMillis(30));
      assertThat(loader.isAlive()).isFalse();
      if (cache.getIfPresent(key) != null) {
        resurrected.add(key + " after " + op);
      }
    }
    assertThat(resurrected).as("values loaded before a whole write and present after it").isEmpty();
  }

  /**
   * A store that runs {@link #afterWholeWrite} once, right after a {@code clear} or {@code replaceAll}
   * returns, and {@link #beforePut} once, before a {@code put} reaches the store.
   */
  static final class HookedStore implements PersistentStore {
    final PersistentStore store;
    volatile Runnable afterWholeWrite;
    volatile Runnable beforePut;

    HookedStore(PersistentStore store) {
      this.store = store;
    }

    private Write hooked(Write write) {
      Runnable hook = afterWholeWrite;
      afterWholeWrite = null;
      if (hook != null) {
        hook.run();
      }
      return write;
    }

    @Override public Write clear() {
      return hooked(store.clear());
    }

    @Override public Write replaceAll(Map<String, byte[]> entries) {
      return hooked(store.replaceAll(entries));
    }

    @Override public Value get(String key) {
      return store.get(key);
    }

    @Override public Value getStale(String key) {
      return store.getStale(key);
    }

    @Override public void forEachStale(BiConsumer<String, Value> action) {
      store.forEachStale(action);
    }

    @Override public StoreCounters counters() {
      return store.counters();
    }

    @Override public Write put(String key, byte[] encoded) {
      Runnable hook = beforePut;
      beforePut = null;
      if (hook != null) {
        hook.run();
      }
      return store.put(key, encoded);
    }

    @Override public Write remove(String key) {
      return store.remove(key);
    }

    @Override public void await(Write write) {
      store.await(write);
    }

    @Override public void forEach(BiConsumer<String, Value> action) {
      store.forEach(action);
    }

    @Override public long size() {
      return store.size();
    }

    @Override public long expiresAtMillis() {
      return store.expiresAtMillis();
    }

    @Override public long epoch() {
      return store.epoch();
    }

    @Override public void refresh() {
      store.refresh();
    }

    @Override public void flush() {
      store.flush();
    }

    @Override public Listeners listeners() {
      return store.listeners();
    }

    @Override public void poll() {
      store.poll();
    }

    @Override public boolean frontConfirmed(long nowMillis) {
      return store.frontConfirmed(nowMillis);
    }

    @Override public Lease lease(String key) {
      return store.lease(key);
    }

    @Override public void close() {
      store.close();
    }
  }
}
