package io.tiercache;

import com.google.common.collect.testing.ConcurrentMapTestSuiteBuilder;
import com.google.common.collect.testing.TestStringMapGenerator;
import com.google.common.collect.testing.features.CollectionFeature;
import com.google.common.collect.testing.features.CollectionSize;
import com.google.common.collect.testing.features.MapFeature;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import junit.framework.Test;
import junit.framework.TestSuite;

/**
 * guava-testlib's {@code ConcurrentMap} conformance suite on {@link TieredCache#asMap()} over each
 * store, as Caffeine runs it on its own maps. Each generated map is a new cache in its own files.
 */
public final class MapConformanceTest {
  private MapConformanceTest() {}

  public static Test suite() {
    TestSuite suite = new TestSuite("TieredCache.asMap() conformance");
    suite.addTest(suiteFor("json", b -> b));
    suite.addTest(suiteFor("chronicle", b -> b.store(StoreSpec.chronicleMap(1_000, 64))));
    return suite;
  }

  private static Test suiteFor(String store, UnaryOperator<TieredCacheBuilder<String, String>> select) {
    Caches caches = new Caches(select);
    return ConcurrentMapTestSuiteBuilder.using(caches)
        .named(store + " store")
        .withFeatures(CollectionSize.ANY, MapFeature.GENERAL_PURPOSE, CollectionFeature.SUPPORTS_ITERATOR_REMOVE)
        .withTearDown(caches::closeAll)
        .createTestSuite();
  }

  /** Opens a fresh cache for every generated map and closes them after each test. */
  private static final class Caches extends TestStringMapGenerator {
    private final UnaryOperator<TieredCacheBuilder<String, String>> select;
    private final List<TieredCache<String, String>> open = new ArrayList<>();
    private final Path dir;
    private int next;

    Caches(UnaryOperator<TieredCacheBuilder<String, String>> select) {
      this.select = select;
      try {
        this.dir = Files.createTempDirectory("tiercache-conformance");
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    @Override
    protected Map<String, String> create(Map.Entry<String, String>[] entries) {
      try {
        Files.createDirectories(dir);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      TieredCache<String, String> cache =
          select.apply(TieredCache.builder(String.class, String.class).directory(dir).name("map-" + next++)).build();
      open.add(cache);
      for (Map.Entry<String, String> e : entries) {
        cache.put(e.getKey(), e.getValue());
      }
      return cache.asMap();
    }

    void closeAll() {
      open.forEach(TieredCache::close);
      open.clear();
      try (Stream<Path> files = Files.walk(dir)) { // the directory too: create() makes it again
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }
}
