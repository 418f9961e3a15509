package io.tiercache.micrometer;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.TimeGauge;
import io.micrometer.core.instrument.binder.cache.CacheMeterBinder;
import io.tiercache.TieredCache;
import io.tiercache.stats.CacheStats;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;

/**
 * Micrometer meters for a {@link TieredCache}, in the shape of Micrometer's own
 * {@code CaffeineCacheMetrics}: the standard {@code cache.gets} ({@code result=hit|miss}),
 * {@code cache.puts}, {@code cache.evictions} and {@code cache.size}, Caffeine's
 * {@code cache.eviction.weight}, {@code cache.load} ({@code result=success|failure}) and
 * {@code cache.load.duration}, and the tiers':
 *
 * <ul>
 *   <li>{@code cache.tier.hits} ({@code tier=front|persistent}): reads answered from memory, and reads
 *       the persistent tier answered (a decode, or a Redis round trip);
 *   <li>{@code cache.stale}: expired values served because a loader failed ({@code staleIfError});
 *   <li>{@code cache.compactions}: the store's compactions (Chronicle: purges);
 *   <li>{@code cache.lock.wait.duration}: time spent waiting for the inter-process lock.
 * </ul>
 *
 * <pre>{@code
 * TieredCache<String, Model> models = TieredCache.builder(String.class, Model.class)
 *     .name("model").recordStats().build();
 * TieredCacheMetrics.monitor(registry, models, "models");
 * }</pre>
 *
 * Every count except the store's (compactions, lock waits) stays zero unless the builder called
 * {@code recordStats()}. The meters hold the cache weakly, as Micrometer's own binders do; after the
 * cache is closed they keep the last values they read.
 */
public final class TieredCacheMetrics extends CacheMeterBinder<TieredCache<?, ?>> {
  private volatile CacheStats last = CacheStats.empty();
  private volatile long lastSize;

  /**
   * Meters for {@code cache}, tagged {@code cache=cacheName} and {@code tags}; bind them with
   * {@link #bindTo(MeterRegistry)}, or use {@link #monitor}.
   */
  public TieredCacheMetrics(TieredCache<?, ?> cache, String cacheName, Iterable<Tag> tags) {
    super(cache, cacheName, tags);
  }

  /** Binds the meters of {@code cache} to {@code registry}; {@code tags} are key/value pairs. */
  public static <C extends TieredCache<?, ?>> C monitor(MeterRegistry registry, C cache, String cacheName,
      String... tags) {
    return monitor(registry, cache, cacheName, Tags.of(tags));
  }

  /** Binds the meters of {@code cache} to {@code registry}. */
  public static <C extends TieredCache<?, ?>> C monitor(MeterRegistry registry, C cache, String cacheName,
      Iterable<Tag> tags) {
    new TieredCacheMetrics(cache, cacheName, tags).bindTo(registry);
    return cache;
  }

  /** The cache's statistics, or the last read while it was open. */
  private CacheStats stats() {
    TieredCache<?, ?> cache = getCache();
    if (cache != null) {
      try {
        last = cache.stats();
      } catch (IllegalStateException closed) {
        // keep the last values: a counter must not go back to zero
      }
    }
    return last;
  }

  @Override
  protected Long size() {
    TieredCache<?, ?> cache = getCache();
    if (cache != null) {
      try {
        lastSize = cache.estimatedSize();
      } catch (RuntimeException closedOrUnreachable) {
        // keep the last size
      }
    }
    return lastSize;
  }

  @Override
  protected long hitCount() {
    return stats().hitCount();
  }

  @Override
  protected Long missCount() {
    return stats().missCount();
  }

  @Override
  protected Long evictionCount() {
    return stats().evictionCount();
  }

  @Override
  protected long putCount() {
    return stats().putCount();
  }

  @Override
  protected void bindImplementationSpecificMetrics(MeterRegistry registry) {
    TieredCache<?, ?> cache = getCache();
    if (cache == null) {
      return;
    }
    counter(registry, cache, "cache.eviction.weight", CacheStats::evictionWeight,
        "The sum of weights of entries the front tier evicted. This total does not include manual invalidations.");
    counter(registry, cache, "cache.load", CacheStats::loadSuccessCount, LOAD_DESCRIPTION, "result", "success");
    counter(registry, cache, "cache.load", CacheStats::loadFailureCount, LOAD_DESCRIPTION, "result", "failure");
    TimeGauge.builder("cache.load.duration", cache, TimeUnit.NANOSECONDS, c -> stats().totalLoadTime())
        .tags(getTagsWithCacheName()).description("The time the cache has spent loading new values")
        .register(registry);
    counter(registry, cache, "cache.tier.hits", CacheStats::frontHitCount, TIER_DESCRIPTION, "tier", "front");
    counter(registry, cache, "cache.tier.hits", CacheStats::persistentHitCount, TIER_DESCRIPTION, "tier", "persistent");
    counter(registry, cache, "cache.stale", CacheStats::staleCount,
        "Expired values served because a loader failed (stale-if-error)");
    counter(registry, cache, "cache.compactions", CacheStats::compactionCount,
        "Compactions of the persistent store (the JSON store's snapshot rewrites, the Chronicle store's purges)");
    TimeGauge.builder("cache.lock.wait.duration", cache, TimeUnit.NANOSECONDS, c -> stats().lockWaitTime())
        .tags(getTagsWithCacheName()).description("The time spent waiting for the inter-process lock")
        .register(registry);
  }

  private static final String LOAD_DESCRIPTION = "The number of times cache lookup methods have successfully "
      + "loaded a new value or failed to load a new value, either because no value was found or an exception "
      + "was thrown while loading";
  private static final String TIER_DESCRIPTION = "Reads answered by each tier: front (decoded values in memory) "
      + "or persistent (the files, Chronicle Map or Redis)";

  /** Like Micrometer's own binders, the meter holds the cache weakly (its value is NaN once the cache is gone). */
  private void counter(MeterRegistry registry, TieredCache<?, ?> cache, String name, ToDoubleFunction<CacheStats> count,
      String description, String... tags) {
    FunctionCounter.builder(name, cache, c -> count.applyAsDouble(stats()))
        .tags(getTagsWithCacheName()).tags(tags).description(description).register(registry);
  }
}
