package io.tiercache.jcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import java.io.IOException;
import java.io.Serializable;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import javax.cache.Cache;
import javax.cache.CacheManager;
import javax.cache.Caching;
import javax.cache.configuration.FactoryBuilder;
import javax.cache.configuration.MutableCacheEntryListenerConfiguration;
import javax.cache.configuration.MutableConfiguration;
import javax.cache.event.CacheEntryEvent;
import javax.cache.event.CacheEntryExpiredListener;
import javax.cache.expiry.CreatedExpiryPolicy;
import javax.cache.expiry.Duration;
import javax.cache.expiry.ExpiryPolicy;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** The provider on each store, in one JVM: persistence, per-entry deadlines, names, configuration. */
class TieredCachingProviderTest {
  record Model(String id, List<String> tags) {}

  private static Fixtures.Redis redis;

  @TempDir
  Path dir;

  @BeforeAll
  static void startRedis() throws Exception {
    redis = new Fixtures.Redis();
  }

  @AfterAll
  static void stopRedis() throws Exception {
    redis.close();
  }

  static Stream<String> stores() {
    return Stream.of("json-files", "chronicle-map", "redis:" + redis.uri);
  }

  private static StoreSpec spec(String store) {
    return switch (store) {
      case "json-files" -> StoreSpec.jsonFiles();
      case "chronicle-map" -> StoreSpec.chronicleMap(1000, 256);
      default -> StoreSpec.redis(URI.create(store.substring("redis:".length())));
    };
  }

  /** A cache name of its own per test and store (the Redis server is shared by the tests). */
  private static String cacheName(String test, String store) {
    return test + "-" + store.replaceAll("[^a-z]", "") + "-" + System.nanoTime();
  }

  @ParameterizedTest
  @MethodSource("stores")
  void entriesAndTheirDeadlinesOutliveTheCacheManager(String store) {
    AtomicLong clock = Fixtures.time();
    String name = cacheName("models", store);
    TieredConfiguration<String, Model> config = new TieredConfiguration<String, Model>()
        .setTypes(String.class, Model.class)
        .setExpiryPolicyFactory(CreatedExpiryPolicy.factoryOf(new Duration(TimeUnit.HOURS, 1)));
    Model model = new Model("m1", List.of("a", "b"));
    long written = clock.get();

    CacheManager first = Fixtures.manager(dir, store, clock::get);
    first.createCache(name, config).put("m1", model);
    first.close();

    clock.addAndGet(TimeUnit.MINUTES.toMillis(59));
    CacheManager second = Fixtures.manager(dir, store, clock::get);
    assertThat(second).isNotSameAs(first);
    assertThat(second.createCache(name, config).get("m1")).isEqualTo(model);
    second.close();

    clock.addAndGet(TimeUnit.MINUTES.toMillis(2));
    // The broken variant: a reader that does not check the entry's own deadline still finds it,
    // so the null below is the deadline's doing, not a lost entry.
    try (TieredCache<String, Object> raw = TieredCache.builder(String.class, Object.class).store(spec(store))
        .directory(dir).name(name).build()) {
      Object envelope = raw.getIfPresent("m1");
      assertThat(envelope).isInstanceOf(Map.class);
      assertThat(((Map<?, ?>) envelope).get("x")).isEqualTo(written + TimeUnit.HOURS.toMillis(1));
    }
    CacheManager third = Fixtures.manager(dir, store, clock::get);
    Cache<String, Model> cache = third.createCache(name, config);
    assertThat(cache.get("m1")).isNull();
    assertThat(cache.iterator().hasNext()).isFalse();
    third.close();
  }

  /** Created 10 s, accessed 20 s, updated 5 s. */
  record Policy() implements ExpiryPolicy, Serializable {
    @Override
    public Duration getExpiryForCreation() {
      return new Duration(TimeUnit.SECONDS, 10);
    }

    @Override
    public Duration getExpiryForAccess() {
      return new Duration(TimeUnit.SECONDS, 20);
    }

    @Override
    public Duration getExpiryForUpdate() {
      return new Duration(TimeUnit.SECONDS, 5);
    }
  }

  /** Counts EXPIRED events; the same instance is handed to the cache (a singleton factory). */
  static final class Expirations implements CacheEntryExpiredListener<String, String>, Serializable {
    final List<String> keys = new CopyOnWriteArrayList<>();

    @Override
    public void onExpired(Iterable<CacheEntryEvent<? extends String, ? extends String>> events) {
      events.forEach(e -> keys.add(e.getKey() + "=" + e.getValue()));
    }
  }

  @ParameterizedTest
  @MethodSource("stores")
  void readsAndUpdatesMoveTheDeadlineAsThePolicySays(String store) {
    AtomicLong clock = Fixtures.time();
    Expirations expirations = new Expirations();
    CacheManager manager = Fixtures.manager(dir, store, clock::get);
    Cache<String, String> cache = manager.createCache(cacheName("touched", store), new MutableConfiguration<String, String>()
        .setTypes(String.class, String.class)
        .setExpiryPolicyFactory(FactoryBuilder.factoryOf(new Policy()))
        .addCacheEntryListenerConfiguration(new MutableCacheEntryListenerConfiguration<>(
            FactoryBuilder.factoryOf(expirations), null, true, true)));
    try {
      cache.put("k", "v1");                                  // deadline t+10
      clock.addAndGet(TimeUnit.SECONDS.toMillis(9));
      assertThat(cache.get("k")).isEqualTo("v1");            // read at t+9: deadline t+29
      clock.addAndGet(TimeUnit.SECONDS.toMillis(19));
      assertThat(cache.containsKey("k")).isTrue();           // t+28: containsKey is not an access
      cache.put("k", "v2");                                  // update at t+28: deadline t+33
      clock.addAndGet(TimeUnit.SECONDS.toMillis(4));
      assertThat(cache.get("k")).isEqualTo("v2");            // t+32, access: deadline t+52
      clock.addAndGet(TimeUnit.SECONDS.toMillis(20));
      assertThat(expirations.keys).isEmpty();
      assertThat(cache.get("k")).isNull();                   // t+52
      assertThat(expirations.keys).containsExactly("k=v2");
    } finally {
      manager.close();
    }
  }

  @Test
  void cacheNamesNeverLeaveTheDirectory() throws IOException {
    Path inside = Files.createDirectories(dir.resolve("caches"));
    CacheManager manager = Fixtures.manager(inside, "json-files", System::currentTimeMillis);
    try {
      for (String name : List.of("../escape", "a/b", ".", "..", "", "caf\u00e9 \u2603", "x".repeat(300))) {
        manager.createCache(name, new MutableConfiguration<String, String>()).put("k", name);
      }
      for (String name : List.of("../escape", "a/b", ".", "..", "", "caf\u00e9 \u2603", "x".repeat(300))) {
        assertThat(manager.<String, String>getCache(name).get("k")).isEqualTo(name);
      }
    } finally {
      manager.close();
    }
    try (Stream<Path> outside = Files.list(dir)) {
      assertThat(outside).containsExactly(inside);
    }
    try (Stream<Path> files = Files.list(inside)) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .contains("%2E%2E%2Fescape.json", "a%2Fb.json", "%2E.json", "%2E%2E.json", "%.json", "caf%C3%A9%20%E2%98%83.json")
          .allMatch(n -> !n.contains("/") && !n.contains(".."));
    }
  }

  @Test
  void storeByReferenceIsRefusedAsTheSpecificationAllows() {
    CacheManager manager = Caching.getCachingProvider(Fixtures.PROVIDER).getCacheManager(dir.toUri(), null);
    try {
      assertThatThrownBy(() -> manager.createCache("byReference", new MutableConfiguration<>().setStoreByValue(false)))
          .isInstanceOf(UnsupportedOperationException.class).hasMessageContaining("store by reference");
      assertThat(manager.getCache("byReference")).isNull();
    } finally {
      manager.close();
    }
  }

  @Test
  void aTieredConfigurationChoosesTheStoreAndDirectoryOfItsCache() throws IOException {
    Path elsewhere = dir.resolve("elsewhere");
    CacheManager manager = Fixtures.manager(dir, "json-files", Fixtures.time()::get);
    try {
      manager.createCache("plain", new MutableConfiguration<String, String>()).put("k", "v");
      manager.createCache("mapped", new TieredConfiguration<String, String>().setStore(StoreSpec.chronicleMap(100, 64))
          .setDirectory(elsewhere)).put("k", "v");
      assertThat(manager.getCache("mapped").getConfiguration(TieredConfiguration.class).getStore())
          .contains(StoreSpec.chronicleMap(100, 64));
    } finally {
      manager.close();
    }
    assertThat(dir.resolve("plain.json")).exists();
    assertThat(elsewhere.resolve("mapped.cmap")).exists();
    assertThat(dir.resolve("mapped.cmap")).doesNotExist();
  }

  @Test
  void aBoundedFrontTierStillServesEveryEntryFromTheStore() {
    CacheManager manager = Fixtures.manager(dir, "json-files", Fixtures.time()::get);
    try {
      Cache<Integer, String> cache = manager.createCache("bounded", new TieredConfiguration<Integer, String>()
          .setTypes(Integer.class, String.class).setFrontTierMaximumSize(10));
      for (int i = 0; i < 1000; i++) {
        cache.put(i, "v" + i);
      }
      for (int i = 0; i < 1000; i++) {
        assertThat(cache.get(i)).isEqualTo("v" + i);
      }
      assertThat(cache.getConfiguration(TieredConfiguration.class).getFrontTierMaximumSize()).hasValue(10);
    } finally {
      manager.close();
    }
  }

  @Test
  void aManagerUriMustNameADirectoryAndAStoreNameMustBeKnown() {
    var provider = Caching.getCachingProvider(Fixtures.PROVIDER);
    assertThatThrownBy(() -> provider.getCacheManager(URI.create("redis://localhost:6379"), null))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("names a directory")
        .hasMessageContaining("redis://localhost:6379");
    Properties properties = new Properties();
    properties.setProperty(TieredCachingProvider.STORE, "lmdb");
    CacheManager manager = provider.getCacheManager(dir.toUri(), null, properties);
    try {
      assertThatThrownBy(() -> manager.createCache("c", new MutableConfiguration<>()))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessage("tiercache.jcache.store must be json-files, chronicle-map or redis, not 'lmdb'");
    } finally {
      manager.close();
    }
  }

  /**
   * An entry another program put in the JSON file that is not a JCache envelope (an asset the
   * Python SDK added) is not served, and it stays in the file.
   */
  @Test
  void entriesThatAreNotEnvelopesAreSkippedAndKept() throws IOException {
    double expiry = Instant.now().plusSeconds(3600).toEpochMilli() / 1000.0;
    Files.writeString(dir.resolve("assets.json"), "{\"expiry\": " + expiry + ", \"data\": {"
        + "\"a1\": {\"id\": \"a1\", \"name\": \"written by Python\"}, \"a2\": {\"v\": \"written by JCache\"}}}");
    CacheManager manager = Fixtures.manager(dir, "json-files", System::currentTimeMillis);
    try {
      Cache<String, String> cache = manager.createCache("assets",
          new MutableConfiguration<String, String>().setTypes(String.class, String.class));
      assertThat(cache.get("a1")).isNull();
      assertThat(cache.get("a2")).isEqualTo("written by JCache");
      List<String> keys = new ArrayList<>();
      cache.forEach(e -> keys.add(e.getKey()));
      assertThat(keys).containsExactly("a2");
      cache.put("a3", "new");
    } finally {
      manager.close();
    }
    assertThat(Files.readString(dir.resolve("assets.json"), StandardCharsets.UTF_8))
        .contains("\"name\": \"written by Python\"").contains("\"v\": \"new\"");
  }
}
