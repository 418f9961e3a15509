package io.tiercache.micrometer;

import static org.assertj.core.api.Assertions.assertThat;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.tiercache.TieredCache;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The meters read a real cache's statistics, on a {@link SimpleMeterRegistry}. */
class TieredCacheMetricsTest {
  @TempDir Path dir;
  final MeterRegistry registry = new SimpleMeterRegistry();
  final ManualClock clock = new ManualClock();

  record Model(String id, String name) {}

  /** Time the test moves by hand. */
  static final class ManualClock extends Clock {
    final AtomicLong millis = new AtomicLong(Instant.parse("2026-01-01T00:00:00Z").toEpochMilli());

    @Override public long millis() {
      return millis.get();
    }

    @Override public Instant instant() {
      return Instant.ofEpochMilli(millis());
    }

    @Override public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException();
    }
  }

  TieredCache<String, Model> open() {
    return TieredCache.builder(String.class, Model.class).directory(dir).name("models").clock(clock)
        .expireAfter(Duration.ofHours(1)).staleIfError(Duration.ofHours(1)).maximumSize(3).recordStats().build();
  }

  double counter(String name, String... tags) {
    return registry.get(name).tags("cache", "models").tags(tags).functionCounter().count();
  }

  @Test
  void theStandardMetersAndTheTiersOnesReadTheCachesStatistics() {
    try (TieredCache<String, Model> cache = TieredCacheMetrics.monitor(registry, open(), "models", "app", "sdk")) {
      cache.put("a", new Model("a", "A"));          // a put
      cache.getIfPresent("a");                        // decoded from the persistent tier
      cache.getIfPresent("a");                        // from memory
      cache.getIfPresent("absent");                   // a miss
      cache.get("b", id -> new Model(id, "B"));       // a miss, a load, a put
      cache.get("c", id -> new Model(id, "C"));
      try {
        cache.get("d", id -> {
          throw new IllegalStateException("down");
        });
      } catch (IllegalStateException expected) {
        // a miss, a failed load
      }
      clock.millis.addAndGet(Duration.ofHours(1).toMillis());
      cache.get("b", id -> {
        throw new IllegalStateException("down"); // expired within the grace: served stale
      });

      assertThat(counter("cache.gets", "result", "hit")).isEqualTo(2);
      assertThat(counter("cache.gets", "result", "miss")).isEqualTo(5);
      assertThat(counter("cache.tier.hits", "tier", "front")).isEqualTo(1);
      assertThat(counter("cache.tier.hits", "tier", "persistent")).isEqualTo(1);
      assertThat(counter("cache.puts")).isEqualTo(3);
      assertThat(counter("cache.load", "result", "success")).isEqualTo(2);
      assertThat(counter("cache.load", "result", "failure")).isEqualTo(2);
      assertThat(counter("cache.stale")).isEqualTo(1);
      assertThat(registry.get("cache.load.duration").tags("cache", "models").timeGauge().value(TimeUnit.NANOSECONDS))
          .isPositive();
      assertThat(registry.get("cache.gets").tags("app", "sdk").functionCounters()).hasSize(2);
      assertThat(registry.get("cache.compactions").functionCounter().count()).isNotNegative();
      assertThat(registry.get("cache.lock.wait.duration").timeGauge().value(TimeUnit.NANOSECONDS)).isNotNegative();
      cache.getAll(List.of("x", "y", "z"), ids -> Map.of("x", new Model("x", "X"), "y", new Model("y", "Y"),
          "z", new Model("z", "Z")));
      // Caffeine evicts in its maintenance, which may run on a pool thread: wait for it, briefly.
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (counter("cache.evictions") < 3 && System.nanoTime() < deadline) {
        Thread.onSpinWait();
      }
      assertThat(counter("cache.evictions")).as("six entries through a front tier of three").isGreaterThanOrEqualTo(3);
      assertThat(counter("cache.eviction.weight")).isEqualTo(counter("cache.evictions"));
      clock.millis.addAndGet(Duration.ofMinutes(1).toMillis());
      assertThat(registry.get("cache.size").gauge().value()).isEqualTo(3); // x, y, z: a, b, c expired
    }
    assertThat(counter("cache.puts")).as("a closed cache's meters keep their last values").isEqualTo(6);
  }

  @Test
  void withoutRecordStatsTheCountsStayZero() {
    try (TieredCache<String, Model> cache = TieredCacheMetrics.monitor(registry,
        TieredCache.builder(String.class, Model.class).directory(dir).name("plain").build(), "models")) {
      cache.put("a", new Model("a", "A"));
      cache.getIfPresent("a");
      assertThat(counter("cache.gets", "result", "hit")).isZero();
      assertThat(counter("cache.puts")).isZero();
      assertThat(registry.get("cache.size").gauge().value()).isEqualTo(1);
    }
  }
}
