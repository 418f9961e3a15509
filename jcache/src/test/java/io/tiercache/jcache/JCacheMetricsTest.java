package io.tiercache.jcache;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.binder.cache.JCacheMetrics;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.cache.Cache;
import javax.cache.CacheManager;
import javax.cache.configuration.MutableConfiguration;
import javax.cache.expiry.CreatedExpiryPolicy;
import javax.cache.expiry.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Micrometer's own JCacheMetrics reads the provider's statistics MXBean. */
class JCacheMetricsTest {
  @TempDir
  Path dir;

  private static MutableConfiguration<String, String> config(boolean statistics) {
    return new MutableConfiguration<String, String>().setTypes(String.class, String.class)
        .setExpiryPolicyFactory(CreatedExpiryPolicy.factoryOf(new Duration(TimeUnit.MINUTES, 1)))
        .setStatisticsEnabled(statistics);
  }

  @Test
  void jcacheMetricsCountsWhatTheCacheDid() {
    AtomicLong clock = Fixtures.time();
    CacheManager manager = Fixtures.manager(dir, "json-files", clock::get);
    try {
      Cache<String, String> cache = manager.createCache("metered", config(true));
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      JCacheMetrics.monitor(registry, cache, "app", "test");

      cache.put("a", "1");
      cache.put("b", "2");
      cache.get("a");
      cache.get("a");
      cache.get("missing");
      cache.remove("b");
      clock.addAndGet(TimeUnit.MINUTES.toMillis(2));
      cache.get("a"); // expired: a miss and an eviction

      assertThat(registry.get("cache.gets").tags("result", "hit", "cache", "metered", "app", "test")
          .functionCounter().count()).isEqualTo(2);
      assertThat(registry.get("cache.gets").tags("result", "miss").functionCounter().count()).isEqualTo(2);
      assertThat(registry.get("cache.puts").functionCounter().count()).isEqualTo(2);
      assertThat(registry.get("cache.removals").gauge().value()).isEqualTo(1);
      assertThat(registry.get("cache.evictions").functionCounter().count()).isEqualTo(1);
    } finally {
      manager.close();
    }
  }

  /**
   * The broken variant: a cache that keeps no statistics has no MXBean for JCacheMetrics to read,
   * and the meters the test above reads are not there.
   */
  @Test
  void withoutStatisticsThereIsNothingToRead() {
    CacheManager manager = Fixtures.manager(dir, "json-files", Fixtures.time()::get);
    try {
      Cache<String, String> cache = manager.createCache("unmetered", config(false));
      SimpleMeterRegistry registry = new SimpleMeterRegistry();
      JCacheMetrics.monitor(registry, cache);
      cache.put("a", "1");
      cache.get("a");
      var hits = registry.find("cache.gets").tag("result", "hit").functionCounter();
      var puts = registry.find("cache.puts").functionCounter();
      assertThat(hits == null ? 0 : hits.count()).as("the hit is not counted").isNotEqualTo(1);
      assertThat(puts == null ? 0 : puts.count()).as("the put is not counted").isNotEqualTo(1);
    } finally {
      manager.close();
    }
  }
}
