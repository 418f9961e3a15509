package io.tiercache;

import java.util.HashMap;
import java.util.Map;

/**
 * The caches open in this JVM, by store location (file, or server and name). The Python SDK opens a
 * new cache object on every call; here a second open of the same files costs a map lookup and
 * shares the open store (one lock descriptor, one journal channel) and, for the same value type and
 * front-tier settings, the front tier. Reference-counted: the last handle's {@code close()} flushes
 * and closes the files.
 */
final class Registry {
  private Registry() {}

  private static final class SharedStore {
    final PersistentStore store;
    final StoreConfig config;
    final Map<CacheConfig.Front, SharedCache<?, ?>> caches = new HashMap<>();
    int handles;

    SharedStore(PersistentStore store, StoreConfig config) {
      this.store = store;
      this.config = config;
    }
  }

  private static final class SharedCache<K, V> {
    final LocalTieredCache<K, V> cache;
    int handles;

    SharedCache(LocalTieredCache<K, V> cache) {
      this.cache = cache;
    }
  }

  private static final Map<Object, SharedStore> STORES = new HashMap<>();

  @SuppressWarnings("unchecked")
  static synchronized <K, V> TieredCache<K, V> open(CacheConfig<K, V> config) {
    StoreConfig storeConfig = config.store();
    StoreProvider provider = storeConfig.provider();
    Object location = provider.location(storeConfig);
    SharedStore shared = STORES.get(location);
    if (shared == null) {
      // A store opens its files through channels, which a caller's pending interrupt would close (see there).
      shared = new SharedStore(FileOps.settingAsideInterrupt(() -> provider.open(storeConfig)), storeConfig);
      STORES.put(location, shared);
    } else if (!shared.config.equals(storeConfig)) {
      throw new IllegalStateException("the cache " + location + " is already open in this JVM with "
          + shared.config + "; this open asks for " + storeConfig);
    }
    CacheConfig.Front front = config.front();
    SharedCache<K, V> cache = (SharedCache<K, V>) shared.caches.get(front);
    if (cache == null) {
      cache = new SharedCache<>(new LocalTieredCache<>(shared.store, config, location.toString()));
      shared.caches.put(front, cache);
    }
    cache.handles++;
    shared.handles++;
    return new CacheHandle<>(cache.cache, location, front);
  }

  static synchronized void release(Object location, Object front) {
    SharedStore shared = STORES.get(location);
    SharedCache<?, ?> cache = shared.caches.get(front);
    if (--cache.handles == 0) {
      shared.caches.remove(front);
      cache.cache.close();
    }
    if (--shared.handles == 0) {
      STORES.remove(location);
      shared.store.close();
    }
  }
}
