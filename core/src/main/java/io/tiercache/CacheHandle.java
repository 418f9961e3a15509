package io.tiercache;

import io.tiercache.stats.CacheStats;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Function;

/** One opener's reference to a shared cache; {@link #close} releases only this reference. */
final class CacheHandle<K, V> implements TieredCache<K, V> {
  private final LocalTieredCache<K, V> cache;
  private final Object location;
  private final Object frontKey;
  /** Set under this handle's lock; read plainly on the hit path (a use racing close() is a bug anyway). */
  private boolean closed;

  CacheHandle(LocalTieredCache<K, V> cache, Object location, Object frontKey) {
    this.cache = cache;
    this.location = location;
    this.frontKey = frontKey;
  }

  LocalTieredCache<K, V> cache() {
    if (closed) {
      throw new IllegalStateException("this cache handle is closed: " + location);
    }
    return cache;
  }

  Object location() {
    return location;
  }

  PersistentStore store() {
    return cache().store;
  }

  @Override public V getIfPresent(K key) {
    return cache().getIfPresent(key);
  }

  @Override public V get(K key, Function<? super K, ? extends V> loader) {
    return cache().get(key, loader);
  }

  @Override public Map<K, V> getAll(Iterable<? extends K> keys,
      Function<? super Set<? extends K>, ? extends Map<? extends K, ? extends V>> bulkLoader) {
    return cache().getAll(keys, bulkLoader);
  }

  @Override public CompletableFuture<V> getAsync(K key, Function<? super K, ? extends V> loader) {
    return cache().getAsync(key, loader);
  }

  @Override public CompletableFuture<Map<K, V>> getAllAsync(Iterable<? extends K> keys,
      Function<? super Set<? extends K>, ? extends Map<? extends K, ? extends V>> bulkLoader) {
    return cache().getAllAsync(keys, bulkLoader);
  }

  @Override public Map<K, V> getAllPresent(Iterable<? extends K> keys) {
    return cache().getAllPresent(keys);
  }

  @Override public void put(K key, V value) {
    cache().put(key, value);
  }

  @Override public void putAll(Map<? extends K, ? extends V> map) {
    cache().putAll(map);
  }

  @Override public void invalidate(K key) {
    cache().invalidate(key);
  }

  @Override public void invalidateAll() {
    cache().invalidateAll();
  }

  @Override public void replaceAll(Map<? extends K, ? extends V> map) {
    cache().replaceAll(map);
  }

  @Override public ConcurrentMap<K, V> asMap() {
    return cache().asMap();
  }

  @Override public long estimatedSize() {
    return cache().estimatedSize();
  }

  @Override public CacheStats stats() {
    return cache().stats();
  }

  @Override public Instant expiry() {
    return cache().expiry();
  }

  @Override public void sync() {
    cache().sync();
  }

  @Override public void flush() {
    cache().flush();
  }

  @Override public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    Registry.release(location, frontKey);
  }

  @Override public String toString() {
    return "TieredCache[" + location + "]";
  }
}
