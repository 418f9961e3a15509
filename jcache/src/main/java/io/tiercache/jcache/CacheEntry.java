package io.tiercache.jcache;

import java.util.AbstractMap;
import javax.cache.Cache;

/** An entry handed out by a cache's iterator: copies of the key and the value. */
final class CacheEntry<K, V> extends AbstractMap.SimpleImmutableEntry<K, V> implements Cache.Entry<K, V> {
  private static final long serialVersionUID = 1L;

  CacheEntry(K key, V value) {
    super(key, value);
  }

  @Override
  public <T> T unwrap(Class<T> clazz) {
    if (clazz.isInstance(this)) {
      return clazz.cast(this);
    }
    throw new IllegalArgumentException("cannot unwrap a cache entry to " + clazz.getName());
  }
}
