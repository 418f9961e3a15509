package io.tiercache.jcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import java.io.Serializable;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import javax.cache.Cache;
import javax.cache.CacheManager;
import javax.cache.configuration.FactoryBuilder;
import javax.cache.configuration.MutableCacheEntryListenerConfiguration;
import javax.cache.configuration.MutableConfiguration;
import javax.cache.event.CacheEntryCreatedListener;
import javax.cache.event.CacheEntryEvent;
import javax.cache.event.CacheEntryExpiredListener;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A JCache cache shared with another JVM, on the stores of one host. */
class OtherProcessesTest {
  @TempDir
  Path dir;

  /** Records CREATED and EXPIRED events as "type key=value". */
  static final class Recorder implements CacheEntryCreatedListener<String, String>,
      CacheEntryExpiredListener<String, String>, Serializable {
    final List<String> events = new CopyOnWriteArrayList<>();

    @Override
    public void onCreated(Iterable<CacheEntryEvent<? extends String, ? extends String>> created) {
      created.forEach(e -> events.add("CREATED " + e.getKey() + "=" + e.getValue()));
    }

    @Override
    public void onExpired(Iterable<CacheEntryEvent<? extends String, ? extends String>> expired) {
      expired.forEach(e -> events.add("EXPIRED " + e.getKey() + "=" + e.getValue()));
    }
  }

  /**
   * Another process's entries are read here, its deadlines honoured here (an entry it wrote that
   * has expired is not served, and this process's listeners are told it expired), but its writes
   * raise no CREATED event here: listeners hear of the changes made through their own cache.
   */
  @ParameterizedTest
  @ValueSource(strings = {"json-files", "chronicle-map"})
  void anotherProcesssEntriesAndDeadlinesAreSeenHere(String store) throws Exception {
    Recorder recorder = new Recorder();
    CacheManager manager = Fixtures.manager(dir, store, System::currentTimeMillis);
    try {
      Cache<String, String> cache = manager.createCache("shared", new MutableConfiguration<String, String>()
          .setTypes(String.class, String.class)
          .addCacheEntryListenerConfiguration(new MutableCacheEntryListenerConfiguration<>(
              FactoryBuilder.factoryOf(recorder), null, true, true)));
      // k2 first: once k1 is seen here, so is k2 (each process's changes apply in order)
      Fixtures.Child child = Fixtures.runJvm(JCacheChild.class, Duration.ofMinutes(2),
          dir.toString(), store, "shared", "1", "k2", "v2", "0", "k1", "v1");
      assertThat(child.exitCode()).as(child.output()).isZero();

      await().atMost(Duration.ofSeconds(10)).until(() -> "v1".equals(cache.get("k1")));
      assertThat(cache.get("k2")).as("written with a 1 ms deadline").isNull();
      assertThat(recorder.events).containsExactly("EXPIRED k2=v2");
    } finally {
      manager.close();
    }
  }

  /**
   * The broken variant of the test above: a reader that ignores the envelope's deadline (the
   * tiered cache beneath, read directly) serves the other process's expired entry, which the test
   * above would catch.
   */
  @ParameterizedTest
  @ValueSource(strings = {"json-files", "chronicle-map"})
  void aReaderWithoutTheDeadlineCheckServesTheExpiredEntry(String store) throws Exception {
    Fixtures.Child child = Fixtures.runJvm(JCacheChild.class, Duration.ofMinutes(2),
        dir.toString(), store, "shared", "1", "k2", "v2");
    assertThat(child.exitCode()).as(child.output()).isZero();
    StoreSpec spec = store.equals("json-files") ? StoreSpec.jsonFiles() : StoreSpec.chronicleMap(1000, 256);
    try (TieredCache<String, Object> raw = TieredCache.builder(String.class, Object.class).store(spec)
        .directory(dir).name("shared").build()) {
      Object envelope = raw.getIfPresent("k2");
      assertThat(envelope).isInstanceOf(Map.class);
      assertThat(((Map<?, ?>) envelope).get("v")).isEqualTo("v2");
      assertThat((Long) ((Map<?, ?>) envelope).get("x")).isLessThan(System.currentTimeMillis());
    }
  }
}
