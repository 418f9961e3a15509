package io.tiercache;

import java.util.HashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The caches open in this JVM, by store location (file, or server and name). The Python SDK opens a new cache object on every call;
 * here a second open of the same files costs a map lookup and shares the open store (one lock
 * descriptor, one journal channel) and, for the same value type and settings, the front tier.
 * Reference-counted: the last handle's {@code close()} flushes and closes the files.
 */
final class Registry {
  private Registry() {}

  private static final class SharedStore {
    final PersistentStore store;
    final String settings;
    final Map<FrontKey, SharedCache<?, ?>> caches = new HashMap<>();
    int handles;

    SharedStore(PersistentStore store, String settings) {
      this.store = store;
      this.settings = settings;
    }
  }

  private static final class SharedCache<K, V> {
    final LocalTieredCache<K, V> cache;
    int handles;

    SharedCache(LocalTieredCache<K, V> cache) {
      this.cache = cache;
    }
  }

  /** What must agree for two opens to share a front tier. */
  private static final class FrontKey {
    final Class<?> keyType;
    final Class<?> valueType;
    final Codec<?> codec;
    final long maximumSize;
    final boolean recordStats;

    FrontKey(TieredCacheBuilder<?, ?> b) {
      keyType = b.keys.type;
      valueType = b.valueType;
      codec = b.codec;
      maximumSize = b.maximumSize;
      recordStats = b.recordStats;
    }

    @Override
    public boolean equals(Object o) {
      if (!(o instanceof FrontKey)) {
        return false;
      }
      FrontKey k = (FrontKey) o;
      return keyType == k.keyType && valueType == k.valueType && codec.equals(k.codec)
          && maximumSize == k.maximumSize && recordStats == k.recordStats;
    }

    @Override
    public int hashCode() {
      return Objects.hash(keyType, valueType, codec, maximumSize, recordStats);
    }
  }

  private static final Map<Object, SharedStore> STORES = new HashMap<>();

  @SuppressWarnings("unchecked")
  static synchronized <K, V> TieredCache<K, V> open(TieredCacheBuilder<K, V> builder) {
    StoreSettings settings = builder.store;
    Object location = settings.type.location(settings);
    String description = settings.type.describe(settings);
    SharedStore shared = STORES.get(location);
    if (shared == null) {
      shared = new SharedStore(settings.type.open(settings), description);
      STORES.put(location, shared);
    } else if (!shared.settings.equals(description)) {
      throw new IllegalStateException("the cache " + location + " is already open in this JVM with "
          + shared.settings + "; this open asks for " + description);
    }
    FrontKey frontKey = new FrontKey(builder);
    SharedCache<K, V> cache = (SharedCache<K, V>) shared.caches.get(frontKey);
    if (cache == null) {
      cache = new SharedCache<>(new LocalTieredCache<>(shared.store, builder, location.toString()));
      shared.caches.put(frontKey, cache);
    }
    cache.handles++;
    shared.handles++;
    return new CacheHandle<>(cache.cache, location, frontKey);
  }

  static synchronized void release(Object location, Object frontKey) {
    SharedStore shared = STORES.get(location);
    SharedCache<?, ?> cache = shared.caches.get(frontKey);
    if (--cache.handles == 0) {
      shared.caches.remove(frontKey);
      cache.cache.close();
    }
    if (--shared.handles == 0) {
      STORES.remove(location);
      shared.store.close();
    }
  }
}
