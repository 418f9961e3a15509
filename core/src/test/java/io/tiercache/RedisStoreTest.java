package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.tiercache.Assets.Model;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What only the Redis store does: front tiers of separate stores (each its own connection, as in
 * separate JVMs) stay coherent, Redis expires entries itself, faults (kill, restart, SIGSTOP) never
 * block past the timeout nor leave a stale value behind, and a loader runs once across stores.
 */
class RedisStoreTest {
  static final Duration TIMEOUT = Duration.ofMillis(300);
  static final Duration BOUND = Duration.ofSeconds(2);
  static RedisServer server;

  private final List<PersistentStore> stores = new ArrayList<>();

  @BeforeAll
  static void startServer() throws Exception {
    server = RedisServer.start();
  }

  @AfterAll
  static void stopServer() throws Exception {
    server.close();
  }

  @BeforeEach
  void emptyServer() throws Exception {
    server.resume();
    if (!"+PONG".equals(pingQuietly())) {
      server.restart();
    }
    server.flushAll();
  }

  private static String pingQuietly() {
    try {
      return server.command("PING");
    } catch (java.io.IOException e) {
      return null;
    }
  }

  @AfterEach
  void closeStores() {
    stores.forEach(PersistentStore::close);
  }

  /** A front tier on its own store and connection, bypassing the registry: another JVM, in effect. */
  LocalTieredCache<String, Model> member(Duration ttl) {
    TieredCacheBuilder<String, Model> b = TieredCache.builder(String.class, Model.class).store(StoreSpec.redis(server.uri(), TIMEOUT))
       .name("models").expireAfter(ttl).codec(Codec.json(Model.class));
    CacheConfig<String, Model> config = b.config();
    PersistentStore store = config.store().provider().open(config.store());
    stores.add(store);
    return new LocalTieredCache<>(store, config, "member");
  }

  LocalTieredCache<String, Model> member() {
    return member(Duration.ofHours(1));
  }

  /**
   * Reads {@code key} into {@code member}'s front tier once the invalidation of the write that
   * stored it has come and gone: it can arrive just after the read and drop the fresh value.
   */
  static void warm(LocalTieredCache<String, Model> member, String key) {
    member.getIfPresent(key);
    CacheContractTest.sleep(100);
    assertThat(member.getIfPresent(key)).isNotNull();
  }

  static Model model(String id, String name) {
    return new Model(id, name, null, null, null, null, null);
  }

  @Test
  void anotherStoresWritesReachTheFrontTier() throws Exception {
    LocalTieredCache<String, Model> a = member();
    LocalTieredCache<String, Model> b = member();
    a.put("m1", model("m1", "v1"));
    a.put("m2", model("m2", "v1"));
    assertThat(b.getIfPresent("m1").name()).isEqualTo("v1"); // now in b's front tier
    assertThat(b.getIfPresent("m2").name()).isEqualTo("v1");

    a.put("m1", model("m1", "v2"));
    await().atMost(BOUND).pollInterval(Duration.ofMillis(1)).until(() -> b.getIfPresent("m1").name().equals("v2"));
    a.invalidate("m1");
    await().atMost(BOUND).pollInterval(Duration.ofMillis(1)).until(() -> b.getIfPresent("m1") == null);
    a.replaceAll(Map.of("m3", model("m3", "v1")));
    await().atMost(BOUND).pollInterval(Duration.ofMillis(1)).until(() -> b.getIfPresent("m2") == null);
    assertThat(b.getIfPresent("m3").name()).isEqualTo("v1");

    server.flushAll(); // the server's own flush reaches the front tiers too
    await().atMost(BOUND).pollInterval(Duration.ofMillis(1)).until(() -> b.getIfPresent("m3") == null);
  }

  @Test
  void valuesAreTheJsonBehindTheirDeadlineAndRedisExpiresThem() {
    LocalTieredCache<String, Model> a = member(Duration.ofMillis(500));
    long before = System.currentTimeMillis();
    a.put("m1", model("m1", "short-lived"));
    RedisClient client = RedisClient.create(server.uri().toString());
    try (StatefulRedisConnection<String, String> c = client.connect()) {
      RedisCommands<String, String> raw = c.sync();
      String stored = raw.get("tiercache:{models}:e:m1");
      long deadline = Long.parseLong(stored.substring(0, stored.indexOf(' ')));
      assertThat(deadline).isBetween(before + 500, System.currentTimeMillis() + 500);
      assertThat(stored.substring(stored.indexOf(' ') + 1)).startsWith("{\"id\":\"m1\",\"name\":\"short-lived\"");
      assertThat(raw.pttl("tiercache:{models}:e:m1")).isBetween(1L, 500L);
      await().atMost(Duration.ofSeconds(5)).until(() -> raw.exists("tiercache:{models}:e:m1") == 0);
      assertThat(a.getIfPresent("m1")).isNull();
    } finally {
      client.shutdown();
    }
  }

  @Test
  void aKilledServerLeavesTheFrontTierServingAndNothingStaleSurvivesTheRestart() throws Exception {
    LocalTieredCache<String, Model> a = member();
    LocalTieredCache<String, Model> b = member();
    a.put("m1", model("m1", "before"));
    warm(b, "m1");

    server.kill();
    assertThat(b.getIfPresent("m1").name()).isEqualTo("before"); // the front tier answers
    long start = System.nanoTime();
    assertThatThrownBy(() -> b.getIfPresent("absent")).isInstanceOf(CacheException.class)
        .hasMessageContaining("[" + server.uri() + "#models]");
    assertThatThrownBy(() -> a.put("m2", model("m2", "while down"))).isInstanceOf(CacheException.class);
    assertThat(Duration.ofNanos(System.nanoTime() - start)).isLessThan(TIMEOUT.multipliedBy(2).plusMillis(500));
    assertThatThrownBy(() -> a.getIfPresent("m2")).isInstanceOf(CacheException.class); // not served unconfirmed

    server.restart(); // empty: no persistence
    await().atMost(BOUND).pollInterval(Duration.ofMillis(5)).ignoreExceptions()
        .until(() -> b.getIfPresent("m1") == null);
    await().atMost(BOUND).pollInterval(Duration.ofMillis(5)).ignoreExceptions()
        .until(() -> a.getIfPresent("m1") == null);
    assertThat(a.getIfPresent("m2")).isNull();
    a.put("m1", model("m1", "after"));
    await().atMost(BOUND).pollInterval(Duration.ofMillis(1)).until(() -> b.getIfPresent("m1").name().equals("after"));
  }

  @Test
  void aPausedServerBlocksNoCallerPastTheTimeoutAndItsLateWritesStayCoherent() throws Exception {
    LocalTieredCache<String, Model> a = member();
    LocalTieredCache<String, Model> b = member();
    a.put("m1", model("m1", "v1"));
    warm(b, "m1");

    server.pause();
    try {
      assertThat(b.getIfPresent("m1").name()).isEqualTo("v1");
      for (Runnable call : List.<Runnable>of(() -> b.getIfPresent("absent"), () -> a.put("m1", model("m1", "v2")),
          () -> a.getIfPresent("m1"), () -> b.get("m9", id -> model(id, "loaded")))) {
        long start = System.nanoTime();
        assertThatThrownBy(call::run).isInstanceOf(CacheException.class).hasMessageContaining("within 300 ms");
        Duration took = Duration.ofNanos(System.nanoTime() - start);
        assertThat(took).isGreaterThanOrEqualTo(TIMEOUT.minusMillis(10)).isLessThan(TIMEOUT.plusMillis(700));
      }
    } finally {
      server.resume();
    }
    // The server executes the put it received while paused; every front tier then agrees with it.
    await().atMost(BOUND).pollInterval(Duration.ofMillis(1)).until(() -> b.getIfPresent("m1").name().equals("v2"));
    assertThat(a.getIfPresent("m1").name()).isEqualTo("v2");
  }

  @Test
  void getWithLoaderLoadsOnceAcrossStores() throws Exception {
    List<LocalTieredCache<String, Model>> members = List.of(member(), member(), member());
    AtomicInteger loads = new AtomicInteger();
    CountDownLatch start = new CountDownLatch(1);
    ExecutorService pool = Executors.newFixedThreadPool(6);
    try {
      List<Future<Model>> results = new ArrayList<>();
      for (int i = 0; i < 6; i++) {
        LocalTieredCache<String, Model> m = members.get(i % 3);
        results.add(pool.submit(() -> {
          start.await();
          return m.get("m1", id -> {
            loads.incrementAndGet();
            CacheContractTest.sleep(200);
            return model(id, "loaded");
          });
        }));
      }
      start.countDown();
      for (Future<Model> f : results) {
        assertThat(f.get(10, TimeUnit.SECONDS).name()).isEqualTo("loaded");
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(loads).hasValue(1);
  }

  @Test
  void anUnreachableServerFailsTheBuildNamingItWithoutCredentials() throws Exception {
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    TieredCacheBuilder<String, Model> builder = TieredCache.builder(String.class, Model.class)
        .store(StoreSpec.redis(URI.create("redis://user:secret@127.0.0.1:" + port), TIMEOUT)).name("models");
    assertThatThrownBy(builder::build).isInstanceOf(CacheException.class)
        .hasMessageContaining("cannot connect to Redis [redis://127.0.0.1:" + port + "#models]")
        .hasMessageNotContaining("secret");
  }
}
