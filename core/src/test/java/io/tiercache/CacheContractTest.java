package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.tiercache.Assets.Agent;
import io.tiercache.Assets.Anonymous;
import io.tiercache.Assets.Model;
import io.tiercache.Assets.Numbered;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.AbstractQueuedSynchronizer;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiFunction;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every persistent store must do behind {@link TieredCache} and {@link AssetCache}. Each
 * store runs this suite through a subclass whose {@link #configure} selects it.
 */
abstract class CacheContractTest {
  static final Duration TTL = Duration.ofHours(1);

  @TempDir Path dir;
  final FakeClock clock = new FakeClock();
  private final List<AutoCloseable> opened = new ArrayList<>();

  /** Selects the store under test on a builder. */
  protected abstract <K, V> TieredCacheBuilder<K, V> configure(TieredCacheBuilder<K, V> builder);

  <K, V> TieredCacheBuilder<K, V> builder(Class<K> keys, Class<V> values, String name) {
    return configure(TieredCache.builder(keys, values).directory(dir).name(name).expireAfter(TTL).clock(clock));
  }

  <K, V> TieredCache<K, V> open(Class<K> keys, Class<V> values, String name) {
    return track(builder(keys, values, name).build());
  }

  <T> AssetCache<T> assets(Class<T> type) {
    AssetCache.Builder<T> b = AssetCache.builder(type)
        .configure(t -> configure(t.directory(dir).expireAfter(TTL).clock(clock)));
    return track(b.build());
  }

  <T extends AutoCloseable> T track(T closeable) {
    opened.add(closeable);
    return closeable;
  }

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : opened) {
      c.close();
    }
  }

  // ---------------------------------------------------------------- TieredCache

  @Test
  void putThenGetReturnsAnEqualValue() {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    cache.put("m1", Model.of("m1"));
    assertThat(cache.getIfPresent("m1")).isEqualTo(Model.of("m1"));
    assertThat(cache.getIfPresent("absent")).isNull();
    assertThat(cache.estimatedSize()).isEqualTo(1);
  }

  @Test
  void valuesSurviveCloseAndReopen() {
    TieredCache<String, Model> cache = builder(String.class, Model.class, "models").build();
    for (int i = 0; i < 100; i++) {
      cache.put("m" + i, Model.of("m" + i));
    }
    cache.invalidate("m7");
    cache.close();

    TieredCache<String, Model> reopened = open(String.class, Model.class, "models");
    assertThat(reopened.estimatedSize()).isEqualTo(99);
    assertThat(reopened.getIfPresent("m42")).isEqualTo(Model.of("m42"));
    assertThat(reopened.getIfPresent("m7")).isNull();
  }

  @Test
  void loaderRunsOncePerKeyUnderContention() throws Exception {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    AtomicInteger calls = new AtomicInteger();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      List<Future<Model>> results = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        results.add(pool.submit(() -> {
          start.await();
          return cache.get("m1", id -> {
            calls.incrementAndGet();
            sleep(50);
            return Model.of(id);
          });
        }));
      }
      start.countDown();
      for (Future<Model> f : results) {
        assertThat(f.get(10, TimeUnit.SECONDS)).isEqualTo(Model.of("m1"));
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(calls).hasValue(1);
    assertThat(cache.get("m1", id -> {
      throw new AssertionError("must not load a present value");
    })).isEqualTo(Model.of("m1"));
  }

  @Test
  void loaderReturningNullStoresNothing() {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    assertThat(cache.get("m1", id -> null)).isNull();
    assertThat(cache.estimatedSize()).isZero();
  }

  @Test
  void invalidateAllEmptiesAndStartsANewExpiryPeriod() {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    cache.put("m1", Model.of("m1"));
    clock.advance(Duration.ofMinutes(10));
    cache.invalidateAll();
    assertThat(cache.getIfPresent("m1")).isNull();
    assertThat(cache.estimatedSize()).isZero();
    assertThat(cache.expiry()).isEqualTo(clock.instant().plus(TTL));
  }

  @Test
  void replaceAllReplacesEverythingAndRenewsExpiry() {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    cache.put("old", Model.of("old"));
    clock.advance(Duration.ofMinutes(30));
    cache.replaceAll(Map.of("a", Model.of("a"), "b", Model.of("b")));
    assertThat(cache.getIfPresent("old")).isNull();
    assertThat(cache.getIfPresent("a")).isEqualTo(Model.of("a"));
    assertThat(cache.estimatedSize()).isEqualTo(2);
    assertThat(cache.expiry()).isEqualTo(clock.instant().plus(TTL));
  }

  @Test
  void nothingIsReturnedPastTheExpiry() {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    cache.put("m1", Model.of("m1"));
    assertThat(cache.getIfPresent("m1")).isNotNull(); // now in the front tier too
    clock.advance(TTL.minusMillis(1));
    assertThat(cache.getIfPresent("m1")).isNotNull();
    clock.advance(Duration.ofMillis(1));
    assertThat(cache.getIfPresent("m1")).isNull();
    assertThat(cache.asMap()).isEmpty();
    assertThat(cache.estimatedSize()).isZero();

    // A write after the expiry starts a new period holding only itself.
    cache.put("m2", Model.of("m2"));
    assertThat(cache.getIfPresent("m2")).isEqualTo(Model.of("m2"));
    assertThat(cache.getIfPresent("m1")).isNull();
    assertThat(cache.expiry()).isEqualTo(clock.instant().plus(TTL));
  }

  /** A TTL of "forever" keeps entries, on every store; it overflowed into expiring them at once. */
  @Test
  void aTtlOfForeverKeepsEntries() {
    List<Duration> forevers = List.of(Duration.ofMillis(Long.MAX_VALUE), ChronoUnit.FOREVER.getDuration());
    for (int i = 0; i < forevers.size(); i++) {
      Duration forever = forevers.get(i);
      Instant opened = clock.instant();
      TieredCache<String, Model> cache = track(builder(String.class, Model.class, "forever" + i)
          .expireAfter(forever).staleIfError(forever).refreshAfterWrite(forever).build());
      cache.put("m1", Model.of("m1"));
      assertThat(cache.get("m2", Model::of)).isEqualTo(Model.of("m2"));
      clock.advance(Duration.ofDays(100 * 365));
      assertThat(cache.getIfPresent("m1")).as("%s", forever).isEqualTo(Model.of("m1"));
      assertThat(cache.asMap()).containsOnlyKeys("m1", "m2");
      assertThat(cache.expiry()).isAfter(clock.instant())
          .isBeforeOrEqualTo(opened.plus(Duration.ofNanos(Long.MAX_VALUE))); // Caffeine's longest
    }
  }

  @Test
  void expiredContentIsNotServedAfterReopen() {
    TieredCache<String, Model> cache = builder(String.class, Model.class, "models").build();
    cache.put("m1", Model.of("m1"));
    cache.close();
    clock.advance(TTL.plusSeconds(1));
    TieredCache<String, Model> reopened = open(String.class, Model.class, "models");
    assertThat(reopened.getIfPresent("m1")).isNull();
    assertThat(reopened.expiry()).isAfter(clock.instant());
  }

  @Test
  void mapViewBehavesLikeAConcurrentMap() {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    ConcurrentMap<String, Model> map = cache.asMap();
    assertThat(map.putIfAbsent("a", Model.of("a"))).isNull();
    assertThat(map.putIfAbsent("a", Model.of("x"))).isEqualTo(Model.of("a"));
    assertThat(map.replace("a", Model.of("x"), Model.of("a2"))).isFalse();
    assertThat(map.replace("a", Model.of("a"), Model.of("b"))).isTrue();
    assertThat(map.get("a")).isEqualTo(Model.of("b"));
    assertThat(map.remove("a", Model.of("zzz"))).isFalse();
    assertThat(map.computeIfAbsent("c", Model::of)).isEqualTo(Model.of("c"));
    assertThat(map.keySet()).containsExactlyInAnyOrder("a", "c");
    assertThat(map.remove("a")).isEqualTo(Model.of("b"));
    assertThat(map).containsOnlyKeys("c");
    map.entrySet().removeIf(e -> e.getKey().equals("c"));
    assertThat(map).isEmpty();
    assertThat(cache.getIfPresent("c")).isNull();
    assertThatThrownBy(() -> map.put("k", null)).isInstanceOf(NullPointerException.class);
  }

  @Test
  void mergeCountsEveryIncrementFromManyThreads() throws Exception {
    TieredCache<String, Integer> counters = open(String.class, Integer.class, "counters");
    int threads = 4;
    int each = 250;
    runConcurrently(threads, t -> {
      for (int i = 0; i < each; i++) {
        counters.asMap().merge("n", 1, Integer::sum);
      }
    });
    assertThat(counters.getIfPresent("n")).isEqualTo(threads * each);
  }

  /** "Aa" and "BB" share a hash bin: a compute on one that locked the other threw "Recursive update". */
  @Test
  void aComputeFunctionMayReadAKeyOfTheSameHashBin() {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    cache.put("BB", Model.of("BB")); // written around the front tier: the read below misses it
    ConcurrentMap<String, Model> map = cache.asMap();
    assertThat(map.compute("Aa", (k, v) -> Model.of("Aa from " + cache.getIfPresent("BB").id())))
        .isEqualTo(Model.of("Aa from BB"));
    assertThat(map.computeIfAbsent("Ab", k -> Model.of("Ab from " + map.get("BB").id())))
        .isEqualTo(Model.of("Ab from BB"));
    assertThat(map.merge("Aa", Model.of("x"), (old, v) -> Model.of(old.id() + ", " + map.containsKey("BB"))))
        .isEqualTo(Model.of("Aa from BB, true"));
    assertThat(map.compute("Ac", (k, v) -> cache.getIfPresent("absent"))).isNull();
    assertThat(cache.getIfPresent("BB")).isEqualTo(Model.of("BB"));
  }

  /**
   * Two computes, each reading the other's key while both hold their own, as ConcurrentHashMap and
   * Caffeine allow. A read that locked its key in the front tier deadlocked them.
   */
  @Test
  void twoComputesReadingEachOthersKeysBothFinish() throws Exception {
    crossedComputes((c, key) -> c.getIfPresent(key));
  }

  /**
   * The same with get(key, loader) and getAll: a hit is served from either tier without locking the
   * key in the front tier (which deadlocked two such computes, and threw "Recursive update" for the
   * compute's own key); a miss fails at once, naming the key, instead of loading under the lock.
   */
  @Test
  void computesThatGetWithALoaderReadWithoutLockingAndFailFastOnAMiss() throws Exception {
    TieredCache<String, Model> cache = crossedComputes((c, key) -> key.equals("y")
        ? c.get(key, Model::of) : c.getAll(List.of(key), ks -> Map.of()).get(key));
    String before = cache.getIfPresent("x").id();
    assertThat(cache.asMap().compute("x", (k, v) -> Model.of(v.id() + "+" + cache.get("x", Model::of).id())).id())
        .as("its own key").isEqualTo(before + "+" + before);
    assertThat(catchThrowable(() -> cache.asMap().compute("z", (k, v) -> cache.get("absent", Model::of))))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("'absent'");
    assertThat(catchThrowable(() -> cache.asMap().compute("z", (k, v) ->
        cache.getAll(List.of("x", "gone"), ks -> Map.of()).get("x"))))
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("gone");
    assertThat(cache.getIfPresent("z")).isNull();
    assertThat(cache.get("absent", Model::of)).as("loads outside a compute").isEqualTo(Model.of("absent"));
  }

  /**
   * Computes x and y at once, each reading the other's key with {@code read} while both are inside;
   * each read sees the other key before the other compute wrote it, or after. Returns the cache.
   */
  private TieredCache<String, Model> crossedComputes(BiFunction<TieredCache<String, Model>, String, Model> read)
      throws Exception {
    TieredCache<String, Model> cache = builder(String.class, Model.class, "models").build();
    cache.put("x", Model.of("x0"));
    cache.put("y", Model.of("y0"));
    CyclicBarrier bothInside = new CyclicBarrier(2);
    ExecutorService pool = Executors.newFixedThreadPool(2, r -> {
      Thread t = new Thread(r, "computing");
      t.setDaemon(true); // on failure they stay deadlocked, and must not keep the JVM alive
      return t;
    });
    try {
      Future<Model> x = pool.submit(() -> cache.asMap().compute("x", (k, v) -> {
        meet(bothInside);
        return Model.of("x1 saw " + read.apply(cache, "y").id());
      }));
      Future<Model> y = pool.submit(() -> cache.asMap().compute("y", (k, v) -> {
        meet(bothInside);
        return Model.of("y1 saw " + read.apply(cache, "x").id());
      }));
      assertThat(List.of(x.get(30, TimeUnit.SECONDS).id(), y.get(30, TimeUnit.SECONDS).id())).isIn(
          List.of("x1 saw y0", "y1 saw x0"), List.of("x1 saw y1 saw x0", "y1 saw x0"),
          List.of("x1 saw y0", "y1 saw x1 saw y0"));
      assertThat(cache.getIfPresent("x").id()).isEqualTo(x.get().id());
      assertThat(cache.getIfPresent("y").id()).isEqualTo(y.get().id());
    } finally {
      pool.shutdown();
    }
    return track(cache); // only now: closing a deadlocked front tier would block
  }

  /** A loader that asks for its own key fails at once, as Caffeine's does, instead of waiting for itself. */
  @Test
  void aLoaderThatAsksForItsOwnKeyFailsInsteadOfWaitingForever() throws Exception {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "loading");
      t.setDaemon(true); // on failure it waits forever, and must not keep the JVM alive
      return t;
    });
    try {
      Future<Throwable> single = pool.submit(() -> catchThrowable(
          () -> cache.get("a", k -> cache.get("a", Model::of))));
      assertThat(single.get(30, TimeUnit.SECONDS)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("recursive load").hasMessageContaining("'a'");
      Future<Throwable> bulk = pool.submit(() -> catchThrowable(
          () -> cache.getAll(List.of("b", "c"), ks -> cache.getAll(List.of("c"), cs -> Map.of()))));
      assertThat(bulk.get(30, TimeUnit.SECONDS)).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("'c'");
    } finally {
      pool.shutdown();
    }
    assertThat(cache.get("a", Model::of)).as("not left registered").isEqualTo(Model.of("a"));
    assertThat(cache.getAll(List.of("b", "c"), ks -> Map.of("b", Model.of("b"), "c", Model.of("c"))))
        .containsOnlyKeys("b", "c");
  }

  static void meet(CyclicBarrier barrier) {
    try {
      barrier.await(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  @Test
  void keysOtherThanStringsRoundTrip() {
    TieredCache<Long, String> cache = open(Long.class, String.class, "longs");
    cache.put(42L, "forty-two");
    cache.flush();
    assertThat(cache.getIfPresent(42L)).isEqualTo("forty-two");
    assertThat(cache.asMap().keySet()).containsExactly(42L);
  }

  @Test
  void secondOpenSharesTheOpenCacheAndClosesIndependently() {
    TieredCache<String, Model> first = builder(String.class, Model.class, "models").build();
    TieredCache<String, Model> second = builder(String.class, Model.class, "models").build();
    first.put("m1", Model.of("m1"));
    assertThat(second.getIfPresent("m1")).isEqualTo(Model.of("m1"));
    first.close();
    first.close(); // idempotent
    assertThatThrownBy(() -> first.getIfPresent("m1")).isInstanceOf(IllegalStateException.class);
    second.put("m2", Model.of("m2"));
    assertThat(second.getIfPresent("m1")).isEqualTo(Model.of("m1"));
    second.close();

    TieredCache<String, Model> third = open(String.class, Model.class, "models");
    assertThat(third.estimatedSize()).isEqualTo(2);
  }

  @Test
  void handlesOfDifferentValueTypesOnOneFileSeeEachOthersWrites() {
    TieredCache<String, Model> typed = open(String.class, Model.class, "models");
    @SuppressWarnings({"unchecked", "rawtypes"})
    TieredCache<String, Map> raw = open(String.class, Map.class, "models");
    typed.put("m1", Model.of("m1"));
    assertThat(raw.getIfPresent("m1")).containsEntry("id", "m1");
    raw.put("m1", Map.of("id", "m1", "name", "renamed"));
    assertThat(typed.getIfPresent("m1").name()).isEqualTo("renamed");
  }

  @Test
  void statsCountFrontTierHitsWhenRecorded() {
    TieredCache<String, Model> cache = track(builder(String.class, Model.class, "models").recordStats().build());
    cache.put("m1", Model.of("m1"));
    cache.getIfPresent("m1");
    cache.getIfPresent("m1");
    assertThat(cache.stats().hitCount()).isEqualTo(2);
  }

  @Test
  void differentSettingsOnAnOpenFileAreRejected() {
    open(String.class, Model.class, "models");
    assertThatThrownBy(() -> builder(String.class, Model.class, "models").durability(Durability.FSYNC).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("already open")
        .hasMessageContaining("FSYNC");
  }

  /** What {@link AssetCache#cacheFile()} and {@code lockFile()} say; stores without files override. */
  protected void assertCacheFiles(AssetCache<?> models) {
    assertThat(models.cacheFile()).isEqualTo(dir.resolve("model.json"));
    assertThat(models.lockFile()).isEqualTo(dir.resolve("model.lock"));
  }

  // ---------------------------------------------------------------- AssetCache

  @Test
  void assetCacheMirrorsThePythonApi() {
    AssetCache<Model> models = assets(Model.class);
    assertCacheFiles(models);
    assertThat(models.hasValidCache()).isFalse();

    models.add(Model.of("m1"));
    assertThat(models.get("m1")).isEqualTo(Model.of("m1"));
    assertThat(models.get("m2")).isNull();
    assertThat(models.hasValidCache()).isTrue();
    assertThat(models.computeExpiry()).isEqualTo(clock.instant().plus(TTL));

    models.addList(List.of(Model.of("a"), Model.of("b")));
    assertThat(models.getAll()).containsExactlyInAnyOrder(Model.of("a"), Model.of("b"));
    AssetCache.Store<Model> store = models.store();
    assertThat(store.data()).containsOnlyKeys("a", "b");
    assertThat(store.expiry()).isEqualTo(clock.instant().plus(TTL));

    models.invalidate();
    assertThat(models.getAll()).isEmpty();
    assertThat(models.hasValidCache()).isFalse();
    models.save();
    models.load();
    assertThat(models.getAll()).isEmpty();
  }

  @Test
  void getAllFetchesTheWholeListOncePerExpiry() {
    AssetCache<Model> models = assets(Model.class);
    AtomicInteger fetches = new AtomicInteger();
    List<Model> all = List.of(Model.of("a"), Model.of("b"));
    assertThat(models.getAll(() -> {
      fetches.incrementAndGet();
      return all;
    })).containsExactlyInAnyOrderElementsOf(all);
    assertThat(models.getAll(() -> {
      fetches.incrementAndGet();
      return all;
    })).containsExactlyInAnyOrderElementsOf(all);
    assertThat(fetches).hasValue(1);

    clock.advance(TTL);
    models.getAll(() -> {
      fetches.incrementAndGet();
      return all;
    });
    assertThat(fetches).hasValue(2);
  }

  /**
   * The SDK opens an {@code AssetCache} per call: concurrent callers through their own handles wait for
   * the one fetch, as through one handle. A lock per handle let each of them fetch.
   */
  @Test
  void concurrentGetAllThroughSeparateHandlesFetchesOnce() throws Exception {
    AssetCache<Model> first = assets(Model.class);
    AssetCache<Model> second = assets(Model.class);
    List<Model> all = List.of(Model.of("a"), Model.of("b"));
    AtomicInteger fetches = new AtomicInteger();
    CountDownLatch fetching = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Supplier<List<Model>> fetchAll = () -> {
      if (fetches.incrementAndGet() == 1) {
        fetching.countDown();
        LoadingContractTest.waitFor(release);
      }
      return all;
    };
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      Future<List<Model>> one = pool.submit(() -> first.getAll(fetchAll));
      LoadingContractTest.waitFor(fetching);
      AtomicReference<Thread> caller = new AtomicReference<>();
      Future<List<Model>> two = pool.submit(() -> {
        caller.set(Thread.currentThread());
        return second.getAll(fetchAll);
      });
      // The second caller either waits for the first's fetch (parked on a lock) or fetches itself.
      Awaitility.await().atMost(Duration.ofSeconds(30)).until(() -> fetches.get() > 1
          || caller.get() != null && LockSupport.getBlocker(caller.get()) instanceof AbstractQueuedSynchronizer);
      release.countDown();
      assertThat(one.get(30, TimeUnit.SECONDS)).containsExactlyInAnyOrderElementsOf(all);
      assertThat(two.get(30, TimeUnit.SECONDS)).containsExactlyInAnyOrderElementsOf(all);
    } finally {
      release.countDown();
      pool.shutdown();
    }
    assertThat(fetches).hasValue(1);
  }

  @Test
  void transientFieldsAreNeverStored() {
    AssetCache<Agent> agents = assets(Agent.class);
    agents.add(new Agent("a1", "helper", "sk-secret"));
    agents.close();
    AssetCache<Agent> reopened = assets(Agent.class);
    Agent back = reopened.get("a1");
    assertThat(back.name()).isEqualTo("helper");
    assertThat(back.apiKey()).isNull();
  }

  @Test
  void integerIdsBecomeStrings() {
    AssetCache<Numbered> numbered = assets(Numbered.class);
    numbered.add(new Numbered(7, "seven"));
    assertThat(numbered.get("7")).isEqualTo(new Numbered(7, "seven"));
  }

  @Test
  void badIdsAreRejectedWithTheAssetType() {
    assertThatThrownBy(() -> assets(Anonymous.class))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Anonymous.class.getName());
    AssetCache<Model> models = assets(Model.class);
    assertThatThrownBy(() -> models.add(new Model(null, "n", null, null, null, null, null)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(Model.class.getName());
  }

  @Test
  void getWithLoaderFetchesOnlyMissingIds() {
    AssetCache<Model> models = assets(Model.class);
    models.add(Model.of("m1"));
    List<String> fetched = new ArrayList<>();
    assertThat(models.get("m1", id -> {
      fetched.add(id);
      return Model.of(id);
    })).isEqualTo(Model.of("m1"));
    assertThat(models.get("m2", id -> {
      fetched.add(id);
      return Model.of(id);
    })).isEqualTo(Model.of("m2"));
    assertThat(fetched).containsExactly("m2");
    assertThat(models.get("m2")).isEqualTo(Model.of("m2"));
  }

  /** Many threads add, get, replace and clear; afterwards memory, reopened files and counts agree. */
  @Test
  void hammeringFromManyThreadsLeavesMemoryAndFilesInAgreement() throws Exception {
    AssetCache<Model> models = assets(Model.class);
    int threads = 6;
    runConcurrently(threads, t -> {
      ThreadLocalRandom random = ThreadLocalRandom.current();
      for (int i = 0; i < 400; i++) {
        int op = random.nextInt(100);
        String id = "t" + t + "-" + random.nextInt(50);
        if (op < 60) {
          models.add(Model.of(id));
        } else if (op < 90) {
          Model m = models.get(id);
          if (m != null) {
            assertThat(m.id()).isEqualTo(id);
          }
        } else if (op < 97) {
          models.addList(List.of(Model.of(id), Model.of(id + "-list")));
        } else {
          models.invalidate();
        }
      }
    });
    // Then a quiet phase of distinct adds that must all survive.
    runConcurrently(threads, t -> {
      for (int i = 0; i < 100; i++) {
        models.add(Model.of("final-" + t + "-" + i));
      }
    });
    Map<String, Model> inMemory = models.store().data();
    assertThat(inMemory.keySet()).containsAll(IntStream.range(0, threads).boxed()
        .flatMap(t -> IntStream.range(0, 100).mapToObj(i -> "final-" + t + "-" + i)).collect(Collectors.toList()));
    inMemory.forEach((id, m) -> assertThat(m.id()).isEqualTo(id));
    models.close();

    AssetCache<Model> reopened = assets(Model.class);
    assertThat(reopened.store().data()).isEqualTo(new HashMap<>(inMemory));
  }

  interface ThreadBody {
    void run(int thread) throws Exception;
  }

  static void runConcurrently(int threads, ThreadBody body) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch start = new CountDownLatch(1);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int thread = t;
        futures.add(pool.submit(() -> {
          start.await();
          body.run(thread);
          return null;
        }));
      }
      start.countDown();
      for (Future<?> f : futures) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
