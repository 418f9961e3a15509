package io.tiercache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.stats.CacheStats;
import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Instant;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.function.BiFunction;
import java.util.function.Function;

/**
 * The {@link TieredCache} implementation: a Caffeine cache of decoded values over a
 * {@link PersistentStore} of encoded ones.
 *
 * <p>Every write to a key runs inside the front tier's {@code compute} for that key, which orders
 * the store's change and the front tier's per key; the durable part ({@link PersistentStore#await})
 * runs after, outside Caffeine's lock. Front-tier values carry the store's epoch at the time
 * they were read or written: after a clear, a replace or a reload, older values are misses, with
 * no need to race {@code invalidateAll} against writes in flight.
 */
final class LocalTieredCache<K, V> implements TieredCache<K, V> {
  private static final System.Logger LOG = System.getLogger(LocalTieredCache.class.getName());

  /** A decoded value, the store epoch it belongs to, and when it expires. */
  static final class Tagged<V> {
    final V value;
    final long epoch;
    final long expiresAtMillis;

    Tagged(V value, long epoch, long expiresAtMillis) {
      this.value = value;
      this.epoch = epoch;
      this.expiresAtMillis = expiresAtMillis;
    }
  }

  final PersistentStore store;
  private final KeyFormat<K> keys;
  private final Codec<V> codec;
  private final Class<V> valueType;
  private final Clock clock;
  private final String location;
  private final Cache<K, Tagged<V>> front;
  private final Set<String> reportedUndecodable = ConcurrentHashMap.newKeySet();
  private final MapView view = new MapView();
  /** Drops front-tier values that other writers (processes, other handles) replaced. */
  private final PersistentStore.Listener listener = new PersistentStore.Listener() {
    @Override
    public void invalidate(String name) {
      K key = keys.parse(name);
      if (key != null) {
        front.invalidate(key);
      }
      reportedUndecodable.remove(name);
    }

    @Override
    public void invalidateAll() {
      front.invalidateAll();
    }
  };

  LocalTieredCache(PersistentStore store, CacheConfig<K, V> config, String location) {
    this.store = store;
    this.keys = config.keys();
    this.codec = config.codec();
    this.valueType = config.valueType();
    this.clock = config.store().clock();
    this.location = location;
    Caffeine<Object, Object> caffeine = Caffeine.newBuilder();
    if (config.maximumSize() >= 0) {
      caffeine.maximumSize(config.maximumSize());
    }
    if (config.recordStats()) {
      caffeine.recordStats();
    }
    // No Caffeine expiry: its clock read and timer wheel cost more than the one deadline check
    // current() makes, and content expires by deadline and epoch, which Caffeine does not know.
    this.front = caffeine.build();
    store.listeners().add(listener);
  }

  /** A front value is served only while its content is current and its deadline not reached. */
  private boolean current(Tagged<V> tagged) {
    return tagged != null && tagged.epoch == store.epoch() && clock.millis() < tagged.expiresAtMillis;
  }

  // ---------------------------------------------------------------- reads

  @Override
  public V getIfPresent(K key) {
    store.poll();
    Tagged<V> tagged = front.getIfPresent(key);
    if (current(tagged)) {
      return tagged.value;
    }
    return readThrough(key);
  }

  private V readThrough(K key) {
    String name = keys.format(key);
    Tagged<V> loaded = front.asMap().compute(key, (k, old) -> current(old) ? old : fromStore(name));
    return loaded == null ? null : loaded.value;
  }

  /** The store's value decoded and tagged, or null when absent, expired or undecodable. */
  private Tagged<V> fromStore(String name) {
    long epoch = store.epoch(); // read first: a clear in between leaves the value tagged stale
    PersistentStore.Value stored = store.get(name);
    if (stored == null) {
      return null;
    }
    V value = decode(name, stored.bytes);
    return value == null ? null : new Tagged<>(value, epoch, stored.expiresAtMillis);
  }

  private V decode(String name, Encoded bytes) {
    try {
      return codec.decode(bytes.buf, bytes.offset, bytes.length);
    } catch (CodecException e) {
      if (reportedUndecodable.add(name)) {
        LOG.log(Level.WARNING, "tiercache: the entry '" + name + "' in " + location + " cannot be read as "
            + valueType.getName() + " (" + e.getMessage() + "); skipped it. Its JSON stays in the file.");
      }
      return null;
    }
  }

  @Override
  public V get(K key, Function<? super K, ? extends V> loader) {
    Objects.requireNonNull(loader, "loader");
    store.poll();
    Tagged<V> tagged = front.getIfPresent(key);
    if (current(tagged)) {
      return tagged.value;
    }
    String name = keys.format(key);
    PersistentStore.Write[] write = {null};
    Tagged<V> result = front.asMap().compute(key, (k, old) -> {
      if (current(old)) {
        return old;
      }
      Tagged<V> stored = fromStore(name);
      if (stored != null) {
        return stored;
      }
      PersistentStore.Lease lease = store.lease(name);
      try {
        if (lease != PersistentStore.Lease.NONE) {
          stored = fromStore(name); // another process may have loaded it while we waited
          if (stored != null) {
            return stored;
          }
        }
        V value = loader.apply(k);
        if (value == null) {
          return null;
        }
        write[0] = store.put(name, codec.encode(value));
        return new Tagged<>(value, write[0].epoch, write[0].expiresAtMillis);
      } finally {
        lease.close(); // after the put: stores release in order, so waiters then find the value
      }
    });
    finish(write[0], name);
    return result == null ? null : result.value;
  }

  @Override
  public Map<K, V> getAllPresent(Iterable<? extends K> keysToGet) {
    Map<K, V> result = new LinkedHashMap<>();
    for (K key : keysToGet) {
      V value = getIfPresent(key);
      if (value != null) {
        result.put(key, value);
      }
    }
    return result;
  }

  // ---------------------------------------------------------------- writes

  @Override
  public void put(K key, V value) {
    Objects.requireNonNull(value, "value");
    String name = keys.format(Objects.requireNonNull(key, "key"));
    byte[] encoded = codec.encode(value);
    PersistentStore.Write[] write = {null};
    front.asMap().compute(key, (k, old) -> {
      write[0] = store.put(name, encoded);
      return new Tagged<>(value, write[0].epoch, write[0].expiresAtMillis);
    });
    reportedUndecodable.remove(name);
    finish(write[0], name);
  }

  @Override
  public void putAll(Map<? extends K, ? extends V> map) {
    map.forEach(this::put);
  }

  @Override
  public void invalidate(K key) {
    String name = keys.format(Objects.requireNonNull(key, "key"));
    PersistentStore.Write[] write = {null};
    front.asMap().compute(key, (k, old) -> {
      write[0] = store.remove(name);
      return null;
    });
    finish(write[0], name);
  }

  @Override
  public void invalidateAll() {
    PersistentStore.Write write = store.clear();
    front.invalidateAll();
    store.await(write);
    store.listeners().publish(listener, null);
  }

  @Override
  public void replaceAll(Map<? extends K, ? extends V> map) {
    Map<String, byte[]> encoded = new LinkedHashMap<>(map.size() * 4 / 3 + 1);
    map.forEach((k, v) -> encoded.put(keys.format(Objects.requireNonNull(k, "key")),
        codec.encode(Objects.requireNonNull(v, "value"))));
    PersistentStore.Write write = store.replaceAll(encoded);
    front.invalidateAll();
    // Warm the front tier, but never over a newer value a concurrent writer put meanwhile.
    Tagged<V> fresh;
    for (Map.Entry<? extends K, ? extends V> e : map.entrySet()) {
      fresh = new Tagged<>(e.getValue(), write.epoch, write.expiresAtMillis);
      Tagged<V> warm = fresh;
      front.asMap().compute(e.getKey(), (k, old) -> old != null && old.epoch == write.epoch ? old : warm);
    }
    reportedUndecodable.clear();
    store.await(write);
    store.listeners().publish(listener, null);
  }

  /**
   * Read-modify-write of one key through both tiers, atomic in this JVM. Returns the previous
   * value (index 0) and the new one (index 1).
   */
  private Object[] update(K key, BiFunction<? super K, ? super V, ? extends V> function) {
    String name = keys.format(Objects.requireNonNull(key, "key"));
    store.poll();
    Object[] result = new Object[2];
    PersistentStore.Write[] write = {null};
    front.asMap().compute(key, (k, old) -> {
      Tagged<V> present = current(old) ? old : fromStore(name);
      V previous = present == null ? null : present.value;
      V next = function.apply(k, previous);
      result[0] = previous;
      result[1] = next;
      if (next == null) {
        if (previous != null) {
          write[0] = store.remove(name);
        }
        return null;
      }
      if (next == previous) {
        return present;
      }
      write[0] = store.put(name, codec.encode(next));
      return new Tagged<>(next, write[0].epoch, write[0].expiresAtMillis);
    });
    finish(write[0], name);
    return result;
  }

  private void finish(PersistentStore.Write write, String name) {
    if (write != null) {
      store.await(write);
      store.listeners().publish(listener, name);
    }
  }

  // ---------------------------------------------------------------- the rest

  @Override
  public ConcurrentMap<K, V> asMap() {
    return view;
  }

  @Override
  public long estimatedSize() {
    return store.size();
  }

  @Override
  public CacheStats stats() {
    return front.stats();
  }

  @Override
  public Instant expiry() {
    return Instant.ofEpochMilli(store.expiresAtMillis());
  }

  @Override
  public void sync() {
    store.refresh();
  }

  @Override
  public void flush() {
    store.flush();
  }

  /** Detaches from the store; the registry closes the store when its last user goes. */
  @Override
  public void close() {
    store.listeners().remove(listener);
    front.invalidateAll();
  }

  /** The names of the live entries, read once. */
  List<String> names() {
    List<String> names = new ArrayList<>();
    store.forEach((name, value) -> names.add(name));
    return names;
  }

  /** The {@link ConcurrentMap} view; every operation goes through both tiers. */
  private final class MapView extends AbstractMap<K, V> implements ConcurrentMap<K, V> {
    private final EntrySet entries = new EntrySet();

    @SuppressWarnings("unchecked")
    private K cast(Object key) {
      Objects.requireNonNull(key, "key");
      return keys.type.isInstance(key) ? (K) key : null;
    }

    @Override
    public V get(Object key) {
      K k = cast(key);
      return k == null ? null : getIfPresent(k);
    }

    @Override
    public boolean containsKey(Object key) {
      return get(key) != null;
    }

    @Override
    public boolean containsValue(Object value) {
      Objects.requireNonNull(value, "value");
      return super.containsValue(value);
    }

    @Override
    @SuppressWarnings("unchecked")
    public V put(K key, V value) {
      Objects.requireNonNull(value, "value");
      return (V) update(key, (k, old) -> value)[0];
    }

    @Override
    @SuppressWarnings("unchecked")
    public V remove(Object key) {
      K k = cast(key);
      return k == null ? null : (V) update(k, (x, old) -> null)[0];
    }

    @Override
    public void clear() {
      LocalTieredCache.this.invalidateAll();
    }

    @Override
    public int size() {
      return (int) Math.min(Integer.MAX_VALUE, store.size());
    }

    @Override
    public boolean isEmpty() {
      return store.size() == 0;
    }

    @Override
    @SuppressWarnings("unchecked")
    public V putIfAbsent(K key, V value) {
      Objects.requireNonNull(value, "value");
      return (V) update(key, (k, old) -> old == null ? value : old)[0];
    }

    @Override
    public boolean remove(Object key, Object value) {
      K k = cast(key);
      if (k == null || value == null) {
        return false;
      }
      boolean[] removed = {false};
      update(k, (x, old) -> {
        removed[0] = value.equals(old);
        return removed[0] ? null : old;
      });
      return removed[0];
    }

    @Override
    public boolean replace(K key, V oldValue, V newValue) {
      Objects.requireNonNull(oldValue, "oldValue");
      Objects.requireNonNull(newValue, "newValue");
      boolean[] replaced = {false};
      update(key, (k, old) -> {
        replaced[0] = oldValue.equals(old);
        return replaced[0] ? newValue : old;
      });
      return replaced[0];
    }

    @Override
    @SuppressWarnings("unchecked")
    public V replace(K key, V value) {
      Objects.requireNonNull(value, "value");
      return (V) update(key, (k, old) -> old == null ? null : value)[0];
    }

    @Override
    @SuppressWarnings("unchecked")
    public V compute(K key, BiFunction<? super K, ? super V, ? extends V> function) {
      Objects.requireNonNull(function, "function");
      return (V) update(key, function)[1];
    }

    @Override
    @SuppressWarnings("unchecked")
    public V computeIfAbsent(K key, Function<? super K, ? extends V> function) {
      Objects.requireNonNull(function, "function");
      return (V) update(key, (k, old) -> old != null ? old : function.apply(k))[1];
    }

    @Override
    @SuppressWarnings("unchecked")
    public V computeIfPresent(K key, BiFunction<? super K, ? super V, ? extends V> function) {
      Objects.requireNonNull(function, "function");
      return (V) update(key, (k, old) -> old == null ? null : function.apply(k, old))[1];
    }

    @Override
    @SuppressWarnings("unchecked")
    public V merge(K key, V value, BiFunction<? super V, ? super V, ? extends V> function) {
      Objects.requireNonNull(value, "value");
      Objects.requireNonNull(function, "function");
      return (V) update(key, (k, old) -> old == null ? value : function.apply(old, value))[1];
    }

    @Override
    public Set<Map.Entry<K, V>> entrySet() {
      return entries;
    }

    private final class EntrySet extends AbstractSet<Map.Entry<K, V>> {
      @Override
      public Iterator<Map.Entry<K, V>> iterator() {
        return new EntryIterator(names().iterator());
      }

      @Override
      public int size() {
        return MapView.this.size();
      }

      @Override
      public boolean contains(Object o) {
        if (!(o instanceof Map.Entry)) {
          return false;
        }
        Map.Entry<?, ?> e = (Map.Entry<?, ?>) o;
        if (e.getKey() == null) {
          return false;
        }
        V value = get(e.getKey());
        return value != null && value.equals(e.getValue());
      }

      @Override
      public boolean remove(Object o) {
        if (!(o instanceof Map.Entry)) {
          return false;
        }
        Map.Entry<?, ?> e = (Map.Entry<?, ?>) o;
        return e.getKey() != null && MapView.this.remove(e.getKey(), e.getValue());
      }

      @Override
      public void clear() {
        MapView.this.clear();
      }
    }

    private final class EntryIterator implements Iterator<Map.Entry<K, V>> {
      private final Iterator<String> names;
      private Map.Entry<K, V> next;
      private K lastKey;

      EntryIterator(Iterator<String> names) {
        this.names = names;
      }

      @Override
      public boolean hasNext() {
        while (next == null && names.hasNext()) {
          K key = keys.parse(names.next());
          V value = key == null ? null : getIfPresent(key);
          if (value != null) {
            next = new WriteThroughEntry(key, value);
          }
        }
        return next != null;
      }

      @Override
      public Map.Entry<K, V> next() {
        if (!hasNext()) {
          throw new NoSuchElementException();
        }
        Map.Entry<K, V> e = next;
        next = null;
        lastKey = e.getKey();
        return e;
      }

      @Override
      public void remove() {
        if (lastKey == null) {
          throw new IllegalStateException();
        }
        LocalTieredCache.this.invalidate(lastKey);
        lastKey = null;
      }
    }

    private final class WriteThroughEntry extends SimpleEntry<K, V> {
      private static final long serialVersionUID = 1L;

      WriteThroughEntry(K key, V value) {
        super(key, value);
      }

      @Override
      public V setValue(V value) {
        Objects.requireNonNull(value, "value");
        MapView.this.put(getKey(), value);
        return super.setValue(value);
      }
    }
  }
}
