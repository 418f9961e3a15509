package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.Assets.Model;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A write to a key that lands between {@code replaceAll}'s change to the store and its return wins
 * in this JVM's front tier as it does in the store: the replaced value is not served afterwards.
 * The race is made exact by a store that runs the other writer, on another thread, right after its
 * {@code replaceAll} returns.
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
    CacheConfig<String, Model> config = TieredCache.builder(String.class, Model.class)
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

  /** A store that runs {@link #afterWholeWrite} once, right after a {@code clear} or {@code replaceAll} returns. */
  static final class HookedStore implements PersistentStore {
    final PersistentStore store;
    volatile Runnable afterWholeWrite;

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
