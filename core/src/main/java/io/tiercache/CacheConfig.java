package io.tiercache;

/**
 * A cache's whole configuration, made by {@link TieredCacheBuilder#build()} and never changed: the
 * front tier's settings here, the persistent store's in {@link #store}.
 */
record CacheConfig<K, V>(
    KeyFormat<K> keys,
    Class<V> valueType,
    Codec<V> codec,
    long maximumSize,
    boolean recordStats,
    StoreConfig store) {

  /** What two opens of one store must agree on to share a front tier. */
  record Front(Class<?> keyType, Class<?> valueType, Codec<?> codec, long maximumSize, boolean recordStats) {}

  Front front() {
    return new Front(keys.type, valueType, codec, maximumSize, recordStats);
  }
}
