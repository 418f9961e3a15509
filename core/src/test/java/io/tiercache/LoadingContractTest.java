package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.tiercache.Assets.Model;
import io.tiercache.stats.CacheStats;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.ConcurrentModificationException;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What an SDK that fetches assets needs (issue 17) and statistics that count what happened (issue
 * 16), on every store: stale-if-error, refresh ahead, bulk and async loads, removal events, weights.
 * Each store's contract subclass runs these with the base contract.
 */
abstract class LoadingContractTest extends CacheContractTest {
  static final Duration GRACE = Duration.ofMinutes(10);

  /** A remote service that can be taken down and brought back; counts its calls per key. */
  static final class FlakyService {
    volatile boolean down;
    final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    final AtomicInteger bulkCalls = new AtomicInteger();
    final List<Set<String>> bulkRequests = new CopyOnWriteArrayList<>();
    volatile String version = "v1";

    Model fetch(String id) {
      calls.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
      if (down) {
        throw new IllegalStateException("service unavailable: " + id);
      }
      return new Model(id, version, Assets.Function.TRANSLATION, Map.of(), List.of(), null, null);
    }

    Map<String, Model> fetchAll(Set<? extends String> ids) {
      bulkCalls.incrementAndGet();
      bulkRequests.add(new HashSet<>(ids));
      Map<String, Model> result = new LinkedHashMap<>();
      for (String id : ids) {
        result.put(id, fetch(id));
      }
      return result;
    }

    int callsFor(String id) {
      AtomicInteger n = calls.get(id);
      return n == null ? 0 : n.get();
    }
  }

  final FlakyService service = new FlakyService();
  final List<LogRecord> warnings = new CopyOnWriteArrayList<>();
  private final Handler capture = new Handler() {
    @Override public void publish(LogRecord record) {
      warnings.add(record);
    }

    @Override public void flush() {}

    @Override public void close() {}
  };
  private final Logger cacheLog = Logger.getLogger(LocalTieredCache.class.getName());

  @BeforeEach
  void captureWarnings() {
    cacheLog.addHandler(capture);
  }

  @AfterEach
  void releaseWarnings() {
    cacheLog.removeHandler(capture);
  }

  TieredCacheBuilder<String, Model> models() {
    return builder(String.class, Model.class, "models");
  }

  static String version(Model m) {
    return m.name();
  }

  // ---------------------------------------------------------------- statistics (issue 16)

  @Test
  void putsAndInvalidationsAreNotCountedAsLoads() {
    TieredCache<String, Model> cache = track(models().recordStats().build());
    for (int i = 0; i < 10; i++) {
      cache.put("m" + i, Model.of("m" + i));
    }
    for (int i = 0; i < 10; i++) {
      cache.invalidate("m" + i);
      assertThat(cache.getIfPresent("absent" + i)).isNull();
    }
    CacheStats stats = cache.stats();
    assertThat(stats.loadCount()).as("no loader ran").isZero();
    assertThat(stats.putCount()).isEqualTo(10);
    assertThat(stats.missCount()).isEqualTo(10);
    assertThat(stats.hitCount()).isZero();
  }

  @Test
  void hitsAreCountedByTheTierThatAnsweredThem() {
    TieredCache<String, Model> writer = track(models().recordStats().build());
    writer.put("m1", Model.of("m1")); // written around the front tier: decoded on its first read
    @SuppressWarnings({"unchecked", "rawtypes"})
    TieredCache<String, Map> reader = track(builder(String.class, Map.class, "models").recordStats().build());
    reader.getIfPresent("m1"); // decoded from the persistent tier
    reader.getIfPresent("m1"); // then from memory
    reader.getIfPresent("m1");
    writer.getIfPresent("m1");
    writer.get("m1", service::fetch);

    assertThat(reader.stats().persistentHitCount()).isEqualTo(1);
    assertThat(reader.stats().frontHitCount()).isEqualTo(2);
    assertThat(writer.stats().persistentHitCount()).isEqualTo(1);
    assertThat(writer.stats().frontHitCount()).isEqualTo(1);
    assertThat(writer.stats().loadCount()).isZero();
  }

  @Test
  void anExpiredFrontValueIsAMissNotAHit() {
    TieredCache<String, Model> cache = track(models().recordStats().build());
    cache.put("m1", Model.of("m1"));
    assertThat(cache.getIfPresent("m1")).isNotNull();
    clock.advance(TTL);
    assertThat(cache.getIfPresent("m1")).isNull();
    assertThat(cache.stats().hitCount()).isEqualTo(1);
    assertThat(cache.stats().missCount()).isEqualTo(1);
  }

  @Test
  void loadsCountOnlyLoaderCallsAndTheirTime() {
    TieredCache<String, Model> cache = track(models().recordStats().build());
    cache.get("m1", service::fetch);
    cache.get("m1", service::fetch);
    assertThat(cache.get("none", id -> null)).isNull();
    service.down = true;
    assertThatThrownBy(() -> cache.get("m2", service::fetch)).isInstanceOf(IllegalStateException.class);

    CacheStats stats = cache.stats();
    assertThat(stats.loadSuccessCount()).isEqualTo(1);
    assertThat(stats.loadFailureCount()).as("a null and a throw").isEqualTo(2);
    assertThat(stats.missCount()).isEqualTo(3);
    assertThat(stats.frontHitCount()).isEqualTo(1);
    assertThat(stats.putCount()).isEqualTo(1);
    assertThat(stats.totalLoadTime()).isPositive();
    assertThat(stats.averageLoadPenalty()).isEqualTo(stats.totalLoadTime() / 3.0);
  }

  @Test
  void withoutRecordStatsNothingIsCounted() {
    TieredCache<String, Model> cache = track(models().build());
    cache.get("m1", service::fetch);
    cache.getIfPresent("m1");
    CacheStats stats = cache.stats();
    assertThat(stats.requestCount()).isZero();
    assertThat(stats.loadCount()).isZero();
    assertThat(stats.putCount()).isZero();
  }

  // ---------------------------------------------------------------- stale if error

  @Test
  void anExpiredValueIsServedWithinTheGraceWhenTheLoaderFailsAndNotAfter() {
    TieredCache<String, Model> cache = track(models().staleIfError(GRACE).recordStats().build());
    assertThat(version(cache.get("m1", service::fetch))).isEqualTo("v1");
    clock.advance(TTL.plusMinutes(1));
    service.down = true;

    assertThat(version(cache.get("m1", service::fetch))).as("stale, within the grace").isEqualTo("v1");
    assertThat(cache.getIfPresent("m1")).as("never served without a failing loader").isNull();
    assertThat(cache.stats().staleCount()).isEqualTo(1);
    assertThat(cache.stats().loadFailureCount()).isEqualTo(1);

    clock.advance(GRACE);
    assertThatThrownBy(() -> cache.get("m1", service::fetch)).as("past the grace")
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("service unavailable");
  }

  @Test
  void withoutStaleIfErrorTheLoadersExceptionPropagates() {
    TieredCache<String, Model> cache = track(models().build());
    cache.get("m1", service::fetch);
    clock.advance(TTL);
    service.down = true;
    assertThatThrownBy(() -> cache.get("m1", service::fetch)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void oneWarningPerKeyPerOutageAndTheLoaderIsRetriedAfterABackOff() {
    TieredCache<String, Model> cache = track(models().staleIfError(GRACE).build());
    cache.get("m1", service::fetch);
    cache.get("m2", service::fetch);
    clock.advance(TTL);
    service.down = true;

    for (int i = 0; i < 5; i++) {
      assertThat(cache.get("m1", service::fetch)).isNotNull();
    }
    assertThat(service.callsFor("m1")).as("one try, then the back-off").isEqualTo(2);
    clock.advance(Duration.ofMillis(LocalTieredCache.FIRST_RETRY_MILLIS));
    assertThat(cache.get("m1", service::fetch)).isNotNull();
    assertThat(service.callsFor("m1")).as("tried again after the back-off").isEqualTo(3);
    cache.get("m1", service::fetch);
    assertThat(service.callsFor("m1")).as("the back-off doubled").isEqualTo(3);
    cache.get("m2", service::fetch);

    List<String> messages = warnings.stream().map(LogRecord::getMessage).collect(Collectors.toList());
    assertThat(messages).hasSize(2);
    assertThat(messages.get(0)).contains("'m1'", "service unavailable", "stale-if-error");
    assertThat(messages.get(1)).contains("'m2'");

    // The service comes back: the value is fresh again, and the next outage warns again.
    service.down = false;
    service.version = "v2";
    clock.advance(Duration.ofMinutes(5));
    assertThat(version(cache.get("m1", service::fetch))).isEqualTo("v2");
    clock.advance(TTL);
    service.down = true;
    assertThat(version(cache.get("m1", service::fetch))).isEqualTo("v2");
    assertThat(warnings).hasSize(3);
  }

  @Test
  void anInvalidatedValueIsNeverServedStale() {
    TieredCache<String, Model> cache = track(models().staleIfError(GRACE).build());
    cache.get("m1", service::fetch);
    cache.get("m2", service::fetch);
    cache.invalidate("m1");
    clock.advance(TTL.plusMinutes(1));
    service.down = true;
    assertThatThrownBy(() -> cache.get("m1", service::fetch)).isInstanceOf(IllegalStateException.class);
    cache.invalidateAll();
    assertThatThrownBy(() -> cache.get("m2", service::fetch)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aBulkLoadThatFailsServesStaleValuesAndFailsOnlyWithoutThem() {
    TieredCache<String, Model> cache = track(models().staleIfError(GRACE).build());
    cache.getAll(List.of("a", "b"), service::fetchAll);
    clock.advance(TTL);
    service.down = true;
    assertThat(cache.getAll(List.of("a", "b"), service::fetchAll)).containsOnlyKeys("a", "b");
    assertThatThrownBy(() -> cache.getAll(List.of("a", "never-loaded"), service::fetchAll))
        .isInstanceOf(IllegalStateException.class);
  }

  // ---------------------------------------------------------------- refresh ahead

  @Test
  void anOldValueIsReturnedAtOnceAndReloadedInTheBackground() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      TieredCache<String, Model> cache = track(models().refreshAfterWrite(Duration.ofMinutes(10))
          .executor(pool).recordStats().build());
      cache.get("m1", service::fetch);
      clock.advance(Duration.ofMinutes(11));
      service.version = "v2";
      Function<String, Model> slow = id -> {
        waitFor(release);
        return service.fetch(id);
      };
      assertThat(version(cache.get("m1", slow))).as("the current value, without waiting").isEqualTo("v1");
      assertThat(version(cache.get("m1", slow))).isEqualTo("v1");
      release.countDown();
      await().atMost(Duration.ofSeconds(10)).until(() -> version(cache.getIfPresent("m1")).equals("v2"));
      assertThat(service.callsFor("m1")).as("one refresh for two reads").isEqualTo(2);
      assertThat(cache.stats().loadSuccessCount()).isEqualTo(2);
      cache.get("m1", slow);
      assertThat(service.callsFor("m1")).as("fresh again: no refresh").isEqualTo(2);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aRefreshPeriodUnderAMillisecondStillRefreshes() {
    TieredCache<String, Model> cache = track(models().refreshAfterWrite(Duration.ofNanos(500))
        .executor(Runnable::run).build());
    cache.get("m1", service::fetch);
    clock.advance(Duration.ofMillis(1));
    service.version = "v2";
    cache.get("m1", service::fetch);
    assertThat(service.callsFor("m1")).as("a period of 500 ns is not off").isEqualTo(2);
    assertThat(version(cache.getIfPresent("m1"))).isEqualTo("v2");
  }

  @Test
  void aRefreshThatFailsKeepsTheCurrentValue() {
    TieredCache<String, Model> cache = track(models().refreshAfterWrite(Duration.ofMinutes(10))
        .executor(Runnable::run).build());
    cache.get("m1", service::fetch);
    clock.advance(Duration.ofMinutes(11));
    service.down = true;
    assertThat(version(cache.get("m1", service::fetch))).isEqualTo("v1");
    assertThat(service.callsFor("m1")).isEqualTo(2);
    assertThat(version(cache.getIfPresent("m1"))).as("kept after the failed refresh").isEqualTo("v1");
    assertThat(warnings).singleElement().satisfies(r -> assertThat(r.getMessage()).contains("refreshing 'm1'"));
    cache.get("m1", service::fetch);
    assertThat(service.callsFor("m1")).as("no new refresh during the back-off").isEqualTo(2);
  }

  /**
   * Caffeine returns the hit when its executor cannot take the refresh: the value is current, only
   * its reload failed to start. A RejectedExecutionException is not the only way an executor says no.
   */
  @Test
  void aHitIsServedWhenTheRefreshCannotBeScheduled() {
    AtomicBoolean broken = new AtomicBoolean();
    Executor executor = task -> {
      if (broken.get()) {
        throw new IllegalStateException("pool shut down its own way");
      }
      task.run();
    };
    TieredCache<String, Model> cache = track(models().refreshAfterWrite(Duration.ofMinutes(10))
        .executor(executor).build());
    cache.get("m1", service::fetch);
    clock.advance(Duration.ofMinutes(11));
    service.version = "v2";
    broken.set(true);
    assertThat(version(cache.get("m1", service::fetch))).isEqualTo("v1");
    assertThat(version(cache.get("m1", service::fetch))).isEqualTo("v1");
    assertThat(warnings).as("one warning, with the executor's exception").singleElement().satisfies(r ->
        assertThat(r.getThrown()).hasMessage("pool shut down its own way"));
    broken.set(false);
    assertThat(version(cache.get("m1", service::fetch))).as("the key was not left marked as refreshing")
        .isEqualTo("v1");
    assertThat(version(cache.getIfPresent("m1"))).isEqualTo("v2");
  }

  /**
   * An executor may fail with an Error (ThreadPoolExecutor: OutOfMemoryError "unable to create native
   * thread"). The Error reaches the caller, and the keys it was loading or refreshing are not left
   * registered: later calls load and refresh them once the executor works again.
   */
  @Test
  void anErrorFromTheExecutorLeavesNoKeyRegistered() throws Exception {
    AtomicBoolean broken = new AtomicBoolean();
    Executor executor = task -> {
      if (broken.getAndSet(false)) {
        throw new OutOfMemoryError("unable to create native thread");
      }
      task.run();
    };
    TieredCache<String, Model> cache = track(models().refreshAfterWrite(Duration.ofMinutes(10))
        .executor(executor).build());
    ExecutorService pool = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "loading");
      t.setDaemon(true); // on failure it waits forever, and must not keep the JVM alive
      return t;
    });
    try {
      broken.set(true);
      assertThatThrownBy(() -> cache.getAsync("a", service::fetch)).isInstanceOf(OutOfMemoryError.class);
      assertThat(pool.submit(() -> cache.get("a", service::fetch)).get(30, TimeUnit.SECONDS)).isNotNull();
      broken.set(true);
      assertThatThrownBy(() -> cache.getAllAsync(List.of("b", "c"), service::fetchAll))
          .isInstanceOf(OutOfMemoryError.class);
      assertThat(pool.submit(() -> cache.getAll(List.of("b", "c"), service::fetchAll)).get(30, TimeUnit.SECONDS))
          .containsOnlyKeys("b", "c");

      clock.advance(Duration.ofMinutes(11));
      service.version = "v2";
      broken.set(true);
      assertThatThrownBy(() -> cache.get("a", service::fetch)).isInstanceOf(OutOfMemoryError.class);
      assertThat(version(cache.get("a", service::fetch))).isEqualTo("v1");
      assertThat(version(cache.getIfPresent("a"))).as("refreshed once the executor works").isEqualTo("v2");
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aRefreshRunsOncePerKeyUnderContention() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      TieredCache<String, Model> cache = track(models().refreshAfterWrite(Duration.ofMinutes(1)).executor(pool).build());
      cache.get("m1", service::fetch);
      clock.advance(Duration.ofMinutes(2));
      runConcurrently(8, t -> {
        for (int i = 0; i < 50; i++) {
          assertThat(cache.get("m1", id -> {
            waitFor(release);
            return service.fetch(id);
          })).isNotNull();
        }
      });
      release.countDown();
      await().atMost(Duration.ofSeconds(10)).until(() -> service.callsFor("m1") == 2 && cacheIsFresh(cache));
      assertThat(service.callsFor("m1")).isEqualTo(2);
    } finally {
      pool.shutdownNow();
    }
  }

  private boolean cacheIsFresh(TieredCache<String, Model> cache) {
    AtomicInteger loads = new AtomicInteger();
    cache.get("m1", id -> {
      loads.incrementAndGet();
      return Model.of(id);
    });
    return loads.get() == 0;
  }

  // ---------------------------------------------------------------- bulk loads

  @Test
  void aBulkLoadCallsTheLoaderOnceWithOnlyTheMissingKeys() {
    TieredCache<String, Model> cache = track(models().recordStats().build());
    cache.put("a", Model.of("a"));
    cache.put("b", Model.of("b"));
    List<String> wanted = List.of("a", "x", "b", "y", "z");
    Map<String, Model> all = cache.getAll(wanted, service::fetchAll);
    assertThat(all.keySet()).containsExactlyElementsOf(wanted);
    assertThat(service.bulkCalls).hasValue(1);
    assertThat(service.bulkRequests.get(0)).containsExactlyInAnyOrder("x", "y", "z");
    assertThat(cache.getAll(wanted, service::fetchAll)).isEqualTo(all);
    assertThat(service.bulkCalls).as("everything is cached now").hasValue(1);
    assertThat(cache.stats().loadSuccessCount()).isEqualTo(1);
    assertThat(cache.stats().putCount()).isEqualTo(5);
  }

  @Test
  void aBulkLoadIsStoredAndSurvivesAReopen() {
    TieredCache<String, Model> cache = models().durability(Durability.FSYNC).build();
    cache.getAll(IntStream.range(0, 200).mapToObj(i -> "k" + i).collect(Collectors.toList()), service::fetchAll);
    cache.close();
    TieredCache<String, Model> reopened = open(String.class, Model.class, "models");
    assertThat(reopened.estimatedSize()).isEqualTo(200);
    assertThat(reopened.getIfPresent("k199")).isNotNull();
  }

  @Test
  void keysTheBulkLoaderLeavesOutAreAbsentAndExtraKeysAreStored() {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    Map<String, Model> got = cache.getAll(List.of("a", "gone"), ids -> Map.of("a", Model.of("a"), "extra", Model.of("extra")));
    assertThat(got).containsOnlyKeys("a");
    assertThat(cache.getIfPresent("extra")).isEqualTo(Model.of("extra"));
    assertThat(cache.getIfPresent("gone")).isNull();
  }

  @Test
  void bulkAndSingleLoadsLoadEachKeyOnceUnderContention() throws Exception {
    TieredCache<String, Model> cache = open(String.class, Model.class, "models");
    List<String> ids = IntStream.range(0, 40).mapToObj(i -> "k" + i).collect(Collectors.toList());
    runConcurrently(6, t -> {
      List<String> mine = new ArrayList<>(ids);
      Collections.shuffle(mine);
      if (t % 3 == 0) {
        for (String id : mine) {
          cache.get(id, service::fetch);
        }
      } else {
        for (int from = 0; from < mine.size(); from += 7) {
          cache.getAll(mine.subList(from, Math.min(mine.size(), from + 7)), keys -> {
            sleep(2);
            return service.fetchAll(keys);
          });
        }
      }
    });
    for (String id : ids) {
      assertThat(service.callsFor(id)).as(id).isEqualTo(1);
    }
  }

  // ---------------------------------------------------------------- async

  @Test
  void getAsyncDoesNotBlockTheCallerAndSharesOneLoadPerKey() throws Exception {
    AtomicInteger tasks = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(2);
    CountDownLatch release = new CountDownLatch(1);
    try {
      TieredCache<String, Model> cache = track(models().executor(task -> {
        tasks.incrementAndGet();
        pool.execute(task);
      }).build());
      Function<String, Model> slow = id -> {
        waitFor(release);
        return service.fetch(id);
      };
      List<CompletableFuture<Model>> futures = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        futures.add(cache.getAsync("m1", slow));
      }
      assertThat(futures).allSatisfy(f -> assertThat(f).isNotDone());
      assertThat(tasks).as("one task for ten calls: the others share its future").hasValue(1);
      release.countDown();
      for (CompletableFuture<Model> f : futures) {
        assertThat(version(f.get(10, TimeUnit.SECONDS))).isEqualTo("v1");
      }
      assertThat(service.callsFor("m1")).isEqualTo(1);
      assertThat(cache.getAsync("m1", slow)).as("a front-tier hit completes at once").isCompleted();
      assertThat(tasks).hasValue(1);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void getAllAsyncLoadsOnTheExecutorAndFailsWithTheLoadersException() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      TieredCache<String, Model> cache = track(models().executor(pool).build());
      assertThat(cache.getAllAsync(List.of("a", "b"), service::fetchAll).get(10, TimeUnit.SECONDS))
          .containsOnlyKeys("a", "b");
      service.down = true;
      CompletableFuture<Map<String, Model>> failing = cache.getAllAsync(List.of("a", "c"), service::fetchAll);
      assertThatThrownBy(() -> failing.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(IllegalStateException.class);
      CompletableFuture<Model> single = cache.getAsync("d", service::fetch);
      assertThatThrownBy(() -> single.get(10, TimeUnit.SECONDS)).hasCauseInstanceOf(IllegalStateException.class);
      assertThat(cache.getIfPresent("c")).isNull();
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aPutDuringALoadWinsOverTheLoadedValue() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    CountDownLatch loading = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    try {
      TieredCache<String, Model> cache = track(models().executor(pool).build());
      CompletableFuture<Model> load = cache.getAsync("m1", id -> {
        loading.countDown();
        waitFor(release);
        return service.fetch(id);
      });
      waitFor(loading);
      Model put = new Model("m1", "put meanwhile", null, Map.of(), List.of(), null, null);
      cache.put("m1", put);
      release.countDown();
      assertThat(version(load.get(10, TimeUnit.SECONDS))).as("the caller gets its load").isEqualTo("v1");
      assertThat(cache.getIfPresent("m1")).as("the put is not overwritten by the older load").isEqualTo(put);
    } finally {
      pool.shutdownNow();
    }
  }

  /**
   * A bulk load that fails before it runs (a null key, a key list that throws, an executor that
   * fails with an Error while a key's refresh is handed to it, or throws when the load is) leaves no
   * key registered: later loads of its keys run instead of waiting forever.
   */
  @Test
  void aBulkLoadThatFailsBeforeItRunsLeavesNoKeyWaitingForIt() {
    AtomicInteger broken = new AtomicInteger();
    // Ages of milliseconds: well inside the Redis store's bound on unconfirmed hits, so "old" is a hit on every store.
    TieredCache<String, Model> cache = track(models().refreshAfterWrite(Duration.ofMillis(1)).executor(task -> {
      if (broken.get() == 2) {
        throw new OutOfMemoryError("executor shut down"); // no thread could be created
      }
      if (broken.get() > 0) {
        throw new IllegalStateException("executor shut down"); // not a RejectedExecutionException
      }
      task.run();
    }).build());
    cache.put("old", service.fetch("old"));
    assertThat(cache.getIfPresent("old")).isNotNull(); // now in memory, where a hit starts its refresh
    clock.advance(Duration.ofMillis(2));
    Iterable<String> changing = () -> new Iterator<>() {
      boolean first = true;

      @Override public boolean hasNext() {
        return true;
      }

      @Override public String next() {
        if (first) {
          first = false;
          return "m1";
        }
        throw new ConcurrentModificationException("the key list changed");
      }
    };

    assertThatThrownBy(() -> cache.getAll(Arrays.asList("m1", null), service::fetchAll))
        .isInstanceOf(NullPointerException.class);
    assertThatThrownBy(() -> cache.getAll(changing, service::fetchAll))
        .isInstanceOf(ConcurrentModificationException.class);
    broken.set(2);
    assertThatThrownBy(() -> cache.getAll(List.of("m1", "old"), service::fetchAll))
        .as("the refresh of 'old' fails after m1 was registered").hasMessage("executor shut down");
    broken.set(1);
    assertThat(cache.getAllAsync(List.of("m1", "m2"), service::fetchAll)).failsWithin(Duration.ZERO)
        .withThrowableOfType(ExecutionException.class).withMessageContaining("executor shut down");
    broken.set(0);

    service.version = "v2";
    assertThat(cache.getAsync("m1", service::fetch)).as("m1 loads (on this thread: the executor runs tasks inline)")
        .isCompletedWithValueMatching(m -> version(m).equals("v2"));
    assertThat(cache.getAsync("m2", service::fetch)).isCompletedWithValueMatching(m -> version(m).equals("v2"));
    assertThat(version(cache.get("old", service::fetch))).isEqualTo("v1");
    assertThat(version(cache.getIfPresent("old"))).as("refreshed by the get").isEqualTo("v2");
  }

  /** The operations that change every key at once; each is given a fresh cache. */
  static final Map<String, Consumer<TieredCache<String, Model>>> WHOLE_WRITES = Map.of(
      "invalidateAll", TieredCache::invalidateAll,
      "replaceAll", c -> c.replaceAll(Map.of("other", Model.of("other"))),
      "asMapClear", c -> c.asMap().clear());

  @Test
  void aClearOrReplaceDuringALoadWinsOverTheLoadedValue() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (Map.Entry<String, Consumer<TieredCache<String, Model>>> op : WHOLE_WRITES.entrySet()) {
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        TieredCache<String, Model> cache = track(builder(String.class, Model.class, "single-" + op.getKey())
            .executor(pool).build());
        CompletableFuture<Model> load = cache.getAsync("m1", id -> {
          loading.countDown();
          waitFor(release);
          return service.fetch(id);
        });
        waitFor(loading);
        op.getValue().accept(cache);
        release.countDown();
        assertThat(version(load.get(10, TimeUnit.SECONDS))).as("the caller gets its load").isEqualTo("v1");
        assertThat(cache.getIfPresent("m1")).as("%s during the load wins", op.getKey()).isNull();
        assertThat(cache.estimatedSize()).as(op.getKey()).isEqualTo(op.getKey().equals("replaceAll") ? 1 : 0);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aClearOrReplaceDuringABulkLoadWinsOverEveryLoadedValue() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      for (Map.Entry<String, Consumer<TieredCache<String, Model>>> op : WHOLE_WRITES.entrySet()) {
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        TieredCache<String, Model> cache = track(builder(String.class, Model.class, "bulk-" + op.getKey())
            .executor(pool).build());
        CompletableFuture<Map<String, Model>> load = cache.getAllAsync(List.of("m1", "m2"), ids -> {
          loading.countDown();
          waitFor(release);
          Map<String, Model> loaded = new LinkedHashMap<>(service.fetchAll(ids));
          loaded.put("extra", service.fetch("extra")); // not asked for: stored too, unless superseded
          return loaded;
        });
        waitFor(loading);
        op.getValue().accept(cache);
        release.countDown();
        assertThat(load.get(10, TimeUnit.SECONDS)).as("the caller gets its load").containsOnlyKeys("m1", "m2");
        for (String id : List.of("m1", "m2", "extra")) {
          assertThat(cache.getIfPresent(id)).as("%s during the load wins over %s", op.getKey(), id).isNull();
        }
        assertThat(cache.estimatedSize()).as(op.getKey()).isEqualTo(op.getKey().equals("replaceAll") ? 1 : 0);
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void aClearOrReplaceDuringARefreshWinsOverTheRefreshedValue() throws Exception {
    ExecutorService refresher = Executors.newSingleThreadExecutor();
    try {
      for (Map.Entry<String, Consumer<TieredCache<String, Model>>> op : WHOLE_WRITES.entrySet()) {
        CountDownLatch loading = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        TieredCache<String, Model> cache = track(builder(String.class, Model.class, "refresh-" + op.getKey())
            .refreshAfterWrite(Duration.ofMinutes(1)).executor(refresher).build());
        cache.put("m1", service.fetch("m1"));
        clock.advance(Duration.ofMinutes(2));
        service.version = "v2";
        Model current = cache.get("m1", id -> {
          loading.countDown();
          waitFor(release);
          return service.fetch(id);
        });
        assertThat(version(current)).isEqualTo("v1");
        waitFor(loading);
        op.getValue().accept(cache);
        release.countDown();
        refresher.submit(() -> { }).get(10, TimeUnit.SECONDS); // the refresh has ended
        assertThat(cache.getIfPresent("m1")).as("%s during the refresh wins", op.getKey()).isNull();
        assertThat(cache.estimatedSize()).as(op.getKey()).isEqualTo(op.getKey().equals("replaceAll") ? 1 : 0);
        service.version = "v1";
      }
    } finally {
      refresher.shutdownNow();
    }
  }

  // ---------------------------------------------------------------- removal events and weights

  record Event(String key, String value, RemovalCause cause) {}

  @Test
  void removalEventsTellWhyAnEntryLeft() {
    List<Event> events = new CopyOnWriteArrayList<>();
    TieredCache<String, Model> cache = track(models().executor(Runnable::run)
        .removalListener((k, v, cause) -> events.add(new Event(k, v == null ? null : v.name(), cause))).build());
    cache.put("a", Model.of("a"));
    cache.put("a", new Model("a", "second", null, Map.of(), List.of(), null, null));
    cache.invalidate("a");
    cache.put("b", Model.of("b"));
    assertThat(cache.getIfPresent("b")).isNotNull(); // held in memory: its expiry is noticed there
    clock.advance(TTL);
    assertThat(cache.getIfPresent("b")).isNull();
    assertThat(events).containsExactly(
        new Event("a", "model a", RemovalCause.REPLACED),
        new Event("a", "second", RemovalCause.EXPLICIT),
        new Event("b", "model b", RemovalCause.EXPIRED));
  }

  /** The listener's executor failing (not by rejecting) must not fail a write that was already stored. */
  @Test
  void aRemovalExecutorThatThrowsDoesNotFailTheWrite() {
    AtomicBoolean broken = new AtomicBoolean();
    List<Event> events = new CopyOnWriteArrayList<>();
    Executor executor = task -> {
      if (broken.get()) {
        throw new IllegalStateException("executor broken");
      }
      task.run();
    };
    TieredCache<String, Model> cache = track(models().executor(executor)
        .removalListener((k, v, cause) -> events.add(new Event(k, v.name(), cause))).build());
    cache.put("a", Model.of("a"));
    broken.set(true);
    cache.put("a", new Model("a", "second", null, Map.of(), List.of(), null, null));
    assertThat(cache.getIfPresent("a").name()).isEqualTo("second");
    assertThat(events).as("run on the writing thread instead").containsExactly(
        new Event("a", "model a", RemovalCause.REPLACED));
    assertThat(warnings).singleElement().satisfies(r -> assertThat(r.getThrown()).hasMessage("executor broken"));
  }

  @Test
  void anotherWritersChangeIsARemoteEvent() {
    List<Event> events = new CopyOnWriteArrayList<>();
    TieredCache<String, Model> cache = track(models().executor(Runnable::run)
        .removalListener((k, v, cause) -> events.add(new Event(k, v.name(), cause))).build());
    @SuppressWarnings({"unchecked", "rawtypes"})
    TieredCache<String, Map> other = track(builder(String.class, Map.class, "models").build());
    cache.put("a", Model.of("a"));
    cache.getIfPresent("a"); // held in memory: events tell of values the cache held
    other.put("a", Map.of("id", "a", "name", "renamed elsewhere"));
    assertThat(events).containsExactly(new Event("a", "model a", RemovalCause.REMOTE));
    assertThat(cache.getIfPresent("a").name()).isEqualTo("renamed elsewhere");
  }

  @Test
  void aReadThatOverflowsTheFrontTierEvictsOnTheReadingThreadBeforeItReturns() {
    Thread reader = Thread.currentThread();
    List<Thread> evictedOn = new CopyOnWriteArrayList<>();
    TieredCache<String, Model> cache = track(models().maximumSize(10).recordStats().executor(Runnable::run)
        .removalListener((k, v, cause) -> {
          if (cause == RemovalCause.SIZE) {
            evictedOn.add(Thread.currentThread());
          }
        }).build());
    for (int i = 0; i < 30; i++) {
      String key = String.format("k%02d", i);
      cache.put(key, Model.of(key)); // written around the front tier
    }
    int readsToKeep = readsAreLocal() ? 2 : 1; // see aBoundedFrontTierKeepsAKeyReadFromTheStore...
    for (int i = 0; i < 30; i++) {
      for (int read = 0; read < readsToKeep; read++) {
        cache.getIfPresent(String.format("k%02d", i)); // a value read from the store is kept in memory
      }
      assertThat(evictedOn).as("evictions once read %d returned", i).hasSize(Math.max(0, i - 9));
    }
    // Every key was read from the store; a second read may have found it held (a doorkeeper collision).
    assertThat(cache.stats().persistentHitCount()).isBetween(30L, 30L * readsToKeep);
    assertThat(cache.stats().persistentHitCount() + cache.stats().frontHitCount()).isEqualTo(30L * readsToKeep);
    assertThat(evictedOn).containsOnly(reader);
  }

  /** Whether the store's reads cost about a front-tier insert (files), not a round trip (a server). */
  protected boolean readsAreLocal() {
    return true;
  }

  @Test
  void aBoundedFrontTierKeepsAKeyReadFromTheStoreOnItsSecondReadFromFilesAndItsFirstFromAServer() {
    TieredCache<String, Model> cache = track(models().maximumSize(6).recordStats().build());
    LocalTieredCache<String, Model> local = ((CacheHandle<String, Model>) cache).cache();
    cache.put("k", Model.of("k")); // written around the front tier
    for (String id : List.of("l1", "l2", "l3")) {
      cache.get(id, Model::of); // loaded values are kept: three of six, the front tier is half full
    }
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("k"));
    assertThat(local.frontHolds("k")).as("kept after its first read").isEqualTo(!readsAreLocal());
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("k"));
    assertThat(local.frontHolds("k")).as("kept after its second read").isTrue();
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("k"));
    long fromStore = readsAreLocal() ? 2 : 1;
    assertThat(cache.stats().persistentHitCount()).isEqualTo(fromStore);
    assertThat(cache.stats().frontHitCount()).isEqualTo(3 - fromStore);

    cache.put("other", Model.of("other"));
    assertThat(cache.get("other", id -> { throw new AssertionError("the store holds it"); }))
        .isEqualTo(Model.of("other"));
    assertThat(local.frontHolds("other")).as("kept after a read through a loader").isEqualTo(!readsAreLocal());
    assertThat(cache.get("loaded", Model::of)).isEqualTo(Model.of("loaded"));
    assertThat(local.frontHolds("loaded")).as("a loaded value is kept at once").isTrue();
    assertThat(cache.getIfPresent("missing")).isNull();
    assertThat(cache.stats().missCount()).isEqualTo(5); // the four loads, "missing"
  }

  @Test
  void aBoundedFrontTierLessThanHalfFullKeepsAKeyReadFromTheStoreOnItsFirstRead() {
    TieredCache<String, Model> cache = track(models().maximumSize(6).recordStats().build());
    LocalTieredCache<String, Model> local = ((CacheHandle<String, Model>) cache).cache();
    for (String id : List.of("k1", "k2", "k3", "k4")) {
      cache.put(id, Model.of(id));
    }
    for (String id : List.of("k1", "k2", "k3")) {
      assertThat(cache.getIfPresent(id)).isEqualTo(Model.of(id));
      assertThat(local.frontHolds(id)).as(id + ", read once").isTrue(); // nothing to evict for it
    }
    assertThat(cache.getIfPresent("k4")).isEqualTo(Model.of("k4"));
    assertThat(local.frontHolds("k4")).as("k4, read once with the front tier half full").isEqualTo(!readsAreLocal());
  }

  @Test
  void aFrontTierBoundedByWeightKeepsAKeyReadFromTheStoreOnItsSecondReadOnceHalfItsWeightIsUsed() {
    TieredCache<String, Model> cache = track(models().maximumWeight(100)
        .weigher((String k, Model v) -> k.equals("heavy") ? 50 : 1).build());
    LocalTieredCache<String, Model> local = ((CacheHandle<String, Model>) cache).cache();
    cache.put("j", Model.of("j"));
    cache.put("k", Model.of("k"));
    assertThat(cache.getIfPresent("j")).isEqualTo(Model.of("j"));
    assertThat(local.frontHolds("j")).as("read once, the front tier under half its weight").isTrue();
    cache.get("heavy", Model::of); // one entry, half the weight: half full, though it holds two of ~100
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("k"));
    assertThat(local.frontHolds("k")).as("read once, half the weight used").isEqualTo(!readsAreLocal());
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("k"));
    assertThat(local.frontHolds("k")).as("read twice").isTrue();
  }

  @Test
  void anUnboundedFrontTierKeepsAKeyReadFromTheStoreOnItsFirstRead() {
    TieredCache<String, Model> cache = track(models().recordStats().build());
    cache.put("k", Model.of("k"));
    assertThat(cache.getIfPresent("k")).isEqualTo(Model.of("k"));
    assertThat(((CacheHandle<String, Model>) cache).cache().frontHolds("k")).isTrue();
  }

  @Test
  void maximumWeightBoundsTheFrontTierByEncodedBytesAndReportsEvictions() {
    List<Event> events = new CopyOnWriteArrayList<>();
    int bytes = Codec.json(Model.class).encode(Model.of("k00")).length;
    TieredCache<String, Model> cache = track(models().maximumWeight(10L * bytes).recordStats()
        .executor(Runnable::run).removalListener((k, v, cause) -> events.add(new Event(k, v.name(), cause))).build());
    for (int i = 0; i < 50; i++) {
      cache.get(String.format("k%02d", i), Model::of);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> cache.stats().evictionCount() >= 40);
    CacheStats stats = cache.stats();
    assertThat(stats.evictionWeight()).isEqualTo(stats.evictionCount() * bytes);
    assertThat(events).isNotEmpty().allSatisfy(e -> assertThat(e.cause()).isEqualTo(RemovalCause.SIZE));
    assertThat(cache.getIfPresent("k00")).as("evicted from memory, still in the persistent tier").isNotNull();
  }

  @Test
  void aStreamOfPutsOfNewKeysDoesNotEvictTheEntriesBeingRead() {
    TieredCache<String, Model> cache = track(models().maximumSize(10).recordStats().build());
    LocalTieredCache<String, Model> local = ((CacheHandle<String, Model>) cache).cache();
    for (int i = 0; i < 10; i++) {
      cache.get("hot" + i, Model::of);
    }
    for (int i = 0; i < 500; i++) {
      cache.put("new" + i, Model.of("new" + i));
    }
    assertThat(cache.stats().evictionCount()).isZero();
    for (int i = 0; i < 10; i++) {
      assertThat(local.frontHolds("hot" + i)).as("hot" + i).isTrue();
    }
    assertThat(cache.getIfPresent("new7")).as("written around memory, read from the persistent tier")
        .isEqualTo(Model.of("new7"));
    cache.put("hot3", new Model("hot3", "replaced", null, Map.of(), List.of(), null, null));
    assertThat(cache.getIfPresent("hot3").name()).as("a held key is replaced in memory").isEqualTo("replaced");
    assertThat(cache.stats().persistentHitCount()).isEqualTo(1);
  }

  @Test
  void aCustomWeigherAndTheBoundsAreChecked() {
    assertThatThrownBy(() -> models().maximumSize(10).maximumWeight(10)).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> models().weigher((k, v) -> 1).build()).isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("maximumWeight");
    TieredCache<String, Model> cache = track(models().maximumWeight(5).weigher((k, v) -> 1).recordStats().build());
    for (int i = 0; i < 20; i++) {
      cache.get("k" + i, Model::of);
    }
    await().atMost(Duration.ofSeconds(10)).until(() -> cache.stats().evictionCount() >= 15);
    assertThat(cache.stats().evictionWeight()).isEqualTo(cache.stats().evictionCount());
  }

  static void waitFor(CountDownLatch latch) {
    try {
      if (!latch.await(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException("never released");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  // ---------------------------------------------------------------- stale values the stores keep (getStale, forEachStale)

  @Test
  void staleValuesSurviveARestartWithinTheGrace() {
    TieredCache<String, Model> cache = models().staleIfError(GRACE).build();
    cache.get("m1", service::fetch);
    cache.close();
    clock.advance(TTL.plusMinutes(1));
    service.down = true;
    TieredCache<String, Model> reopened = track(models().staleIfError(GRACE).build());
    assertThat(version(reopened.get("m1", service::fetch))).as("kept in the files for the grace").isEqualTo("v1");
    assertThat(reopened.getIfPresent("m1")).isNull();
    clock.advance(GRACE);
    assertThatThrownBy(() -> reopened.get("m1", service::fetch)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void aStaleValueComesFromThePersistentTierWhenMemoryDoesNotHoldIt() {
    TieredCache<String, Model> loader = track(models().staleIfError(GRACE).build());
    loader.get("m1", service::fetch);
    // Another front tier on the same store (other settings) that never read m1.
    TieredCache<String, Model> other = track(models().staleIfError(GRACE).maximumSize(5).build());
    clock.advance(TTL.plusMinutes(1));
    service.down = true;
    assertThat(version(other.get("m1", service::fetch))).isEqualTo("v1");
  }

  @Test
  void aWriteAfterTheExpiryKeepsTheOtherStaleValues() {
    TieredCache<String, Model> cache = track(models().staleIfError(GRACE).build());
    cache.get("m1", service::fetch);
    TieredCache<String, Model> other = track(models().staleIfError(GRACE).maximumSize(5).build());
    clock.advance(TTL.plusMinutes(1));
    cache.put("m2", Model.of("m2")); // on the JSON store, a new content period
    service.down = true;
    assertThat(version(other.get("m1", service::fetch))).isEqualTo("v1");
  }

  // ---------------------------------------------------------------- the whole stale content (forEachStale)

  @Test
  void assetCacheGetAllServesTheWholeStaleContentWhenFetchAllFails() {
    AssetCache<Model> models = track(AssetCache.builder(Model.class)
        .configure(t -> configure(t.directory(dir).expireAfter(TTL).clock(clock).staleIfError(GRACE))).build());
    AtomicInteger fetches = new AtomicInteger();
    java.util.function.Supplier<List<Model>> fetchAll = () -> {
      fetches.incrementAndGet();
      if (service.down) {
        throw new IllegalStateException("service unavailable: list");
      }
      return List.of(Model.of("a"), Model.of("b"));
    };
    models.getAll(fetchAll);
    clock.advance(TTL.plusMinutes(1));
    service.down = true;
    assertThat(models.getAll(fetchAll)).containsExactlyInAnyOrder(Model.of("a"), Model.of("b"));
    assertThat(models.getAll(fetchAll)).hasSize(2);
    assertThat(fetches).as("not called again during the back-off").hasValue(2);
    assertThat(warnings).singleElement().satisfies(r -> assertThat(r.getMessage()).contains("fetching every asset"));
    clock.advance(GRACE);
    assertThatThrownBy(() -> models.getAll(fetchAll)).isInstanceOf(IllegalStateException.class);
  }
}
