package io.tiercache;

import java.time.Duration;
import java.util.concurrent.Executor;
import org.jspecify.annotations.Nullable;

/**
 * A cache's whole configuration, made by {@link TieredCacheBuilder#build()} and never changed: the
 * front tier's settings here, the persistent store's in {@link #store}. {@code maximumSize} and
 * {@code maximumWeight} are -1 when unbounded; {@code refreshAfterWrite} is zero when off, and at
 * most {@link StoreConfig#LONGEST}.
 */
record CacheConfig<K, V>(
    KeyFormat<K> keys,
    Class<V> valueType,
    Codec<V> codec,
    long maximumSize,
    long maximumWeight,
    @Nullable Weigher<? super K, ? super V> weigher,
    boolean recordStats,
    Duration refreshAfterWrite,
    Executor executor,
    @Nullable RemovalListener<? super K, ? super V> removalListener,
    StoreConfig store) {

  CacheConfig {
    refreshAfterWrite = StoreConfig.saturated(refreshAfterWrite);
  }

  /** What two opens of one store must agree on to share a front tier. */
  record Front(Class<?> keyType, Class<?> valueType, Codec<?> codec, long maximumSize, long maximumWeight,
      @Nullable Weigher<?, ?> weigher, boolean recordStats, Duration refreshAfterWrite, Executor executor,
      @Nullable RemovalListener<?, ?> removalListener) {}

  Front front() {
    return new Front(keys.type, valueType, codec, maximumSize, maximumWeight, weigher, recordStats,
        refreshAfterWrite, executor, removalListener);
  }
}
