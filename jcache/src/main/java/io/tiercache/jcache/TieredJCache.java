package io.tiercache.jcache;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import io.tiercache.TieredCache;
import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiFunction;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import javax.cache.Cache;
import javax.cache.CacheException;
import javax.cache.CacheManager;
import javax.cache.configuration.CacheEntryListenerConfiguration;
import javax.cache.configuration.Configuration;
import javax.cache.event.CacheEntryListenerException;
import javax.cache.event.EventType;
import javax.cache.expiry.Duration;
import javax.cache.expiry.ExpiryPolicy;
import javax.cache.integration.CacheLoader;
import javax.cache.integration.CacheLoaderException;
import javax.cache.integration.CacheWriter;
import javax.cache.integration.CacheWriterException;
import javax.cache.integration.CompletionListener;
import javax.cache.processor.EntryProcessor;
import javax.cache.processor.EntryProcessorException;
import javax.cache.processor.EntryProcessorResult;
import org.jspecify.annotations.Nullable;

/**
 * A JCache {@link Cache} over a {@link TieredCache} of {@link Stored} envelopes keyed by the
 * {@link KeyCodec}'s names.
 *
 * <p>Every change to a key runs inside the tiered cache's {@code asMap().compute} for its name,
 * which is atomic within this JVM and orders the front tier and the store: the write-through
 * {@code CacheWriter}, the expiry policy, the entry processor and the publication of events all
 * happen there, so a change and its event cannot be reordered by another change to the same key.
 * Synchronous listeners are awaited after the compute, outside it. Each entry's deadline lives in
 * its envelope and is checked on every read; an entry found expired is removed then, with an
 * EXPIRED event.
 */
final class TieredJCache<K, V> implements Cache<K, V> {
  private static final System.Logger LOG = System.getLogger(TieredJCache.class.getName());

  private final String name;
  private final TieredCacheManager manager;
  @GuardedBy("this")
  private final TieredConfiguration<K, V> configuration;
  private final TieredCache<String, Stored> tiered;
  private final ConcurrentMap<String, Stored> map;
  private final KeyCodec<K> keys;
  private final ValueCodec values;
  private final ExpiryPolicy expiry;
  private final @Nullable CacheLoader<K, V> loader;
  private final @Nullable CacheWriter<K, V> writer;
  private final boolean readThrough;
  private final Events<K, V> events;
  private final Statistics statistics = new Statistics();
  private final Management.ConfigurationBean configurationBean = new Management.ConfigurationBean(this);
  private final Executor loads;
  private final LongSupplier clock;
  /** The loadAll calls still running, which close() waits for. */
  private final Set<CompletableFuture<?>> inFlight = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  @SuppressWarnings("unchecked")
  TieredJCache(String name, TieredCacheManager manager, TieredConfiguration<K, V> configuration,
      TieredCache<String, Stored> tiered, Executor deliveries, Executor loads, LongSupplier clock) {
    this.name = name;
    this.manager = manager;
    this.configuration = configuration;
    this.tiered = tiered;
    this.map = tiered.asMap();
    this.keys = KeyCodec.of(configuration.getKeyType(), manager::getClassLoader);
    this.values = new ValueCodec(name, configuration.getValueType(), manager::getClassLoader);
    this.expiry = configuration.getExpiryPolicyFactory().create();
    this.loader = configuration.getCacheLoaderFactory() == null ? null : configuration.getCacheLoaderFactory().create();
    this.writer = configuration.isWriteThrough() && configuration.getCacheWriterFactory() != null
        ? (CacheWriter<K, V>) configuration.getCacheWriterFactory().create() : null;
    this.readThrough = configuration.isReadThrough() && loader != null;
    this.loads = loads;
    this.clock = clock;
    this.events = new Events<>(deliveries);
    for (CacheEntryListenerConfiguration<K, V> listener : configuration.getCacheEntryListenerConfigurations()) {
      events.register(listener);
    }
  }

  // ---------------------------------------------------------------- reads

  @Override
  public @Nullable V get(K key) {
    requireOpen();
    String name = keys.encode(Objects.requireNonNull(key, "key"));
    long start = statistics.start();
    return withEvents(() -> {
      Stored stored = present(key, name);
      V value;
      if (stored != null) {
        statistics.hits(1);
        value = decode(stored);
      } else {
        statistics.misses(1);
        value = readThrough ? load(key, name) : null;
      }
      statistics.getTime(start);
      return value;
    });
  }

  @Override
  public Map<K, V> getAll(Set<? extends K> keysToGet) {
    requireOpen();
    Map<K, String> names = names(keysToGet);
    long start = statistics.start();
    return withEvents(() -> {
      Map<K, V> result = new LinkedHashMap<>();
      List<K> missing = new ArrayList<>();
      names.forEach((key, name) -> {
        Stored stored = present(key, name);
        if (stored == null) {
          missing.add(key);
        } else {
          result.put(key, decode(stored));
        }
      });
      statistics.hits(result.size());
      statistics.misses(missing.size());
      if (readThrough && !missing.isEmpty()) {
        Map<K, V> loaded = loadAll(missing);
        loaded.forEach((key, value) -> {
          if (key != null && value != null && names.containsKey(key)) {
            Stored stored = loaded(key, names.get(key), value);
            if (stored != null) {
              result.put(key, decode(stored));
            }
          }
        });
      }
      statistics.getTime(start);
      return result;
    });
  }

  @Override
  public boolean containsKey(K key) {
    requireOpen();
    String name = keys.encode(Objects.requireNonNull(key, "key"));
    return withEvents(() -> {
      Stored stored = read(name);
      if (stored != null && stored.expired(now())) {
        expire(key, name);
        return false;
      }
      return stored != null;
    });
  }

  /**
   * The live entry for {@code key}, its access deadline applied; null when absent or expired (an
   * expired one is removed, with an EXPIRED event).
   */
  private @Nullable Stored present(K key, String name) {
    Stored stored = read(name);
    if (stored == null) {
      return null;
    }
    long now = now();
    if (stored.expired(now)) {
      expire(key, name);
      return null;
    }
    touch(name, stored, now);
    return stored;
  }

  private @Nullable Stored read(String name) {
    try {
      return tiered.getIfPresent(name);
    } catch (io.tiercache.CacheException e) {
      throw new CacheException(e.getMessage(), e);
    }
  }

  /** Applies the expiry policy's access duration to an entry just read. */
  private void touch(String name, Stored seen, long now) {
    long deadline = deadline(accessExpiry(), now, seen.deadline);
    if (deadline != seen.deadline) {
      compute(name, (n, old) -> old == null || old.expired(now) ? old : old.withDeadline(deadline));
    }
  }

  /** Removes {@code key}'s entry if it has expired, with an EXPIRED event. */
  private void expire(K key, String name) {
    compute(name, (n, old) -> live(key, name, old, now()));
  }

  /**
   * {@code old} when it is live; null when absent or expired, an expired one reported (EXPIRED, an
   * eviction): returned from a compute, that null removes it.
   */
  private @Nullable Stored live(K key, String name, @Nullable Stored old, long now) {
    if (old != null && old.expired(now)) {
      publish(EventType.EXPIRED, key, name, old, old);
      statistics.evictions(1);
      return null;
    }
    return old;
  }

  /** Reads {@code key} through the cache loader; the loaded value is stored and returned. */
  private @Nullable V load(K key, String name) {
    Stored[] result = {null};
    compute(name, (n, old) -> {
      long now = now();
      if (live(key, name, old, now) != null) {
        result[0] = old; // another thread loaded it meanwhile
        return old;
      }
      V value = callLoader(key);
      if (value == null) {
        return null;
      }
      return result[0] = created(key, name, values.encode(value, Stored.ETERNAL), now);
    });
    return result[0] == null ? null : decode(result[0]);
  }

  /** Stores a value the loader returned unless a live entry is there; returns the entry there after. */
  private @Nullable Stored loaded(K key, String name, V value) {
    Stored fresh = values.encode(value, Stored.ETERNAL);
    Stored[] result = {null};
    compute(name, (n, old) -> {
      long now = now();
      return result[0] = live(key, name, old, now) != null ? old : created(key, name, fresh, now);
    });
    return result[0];
  }

  private @Nullable V callLoader(K key) {
    try {
      return loader.load(key);
    } catch (CacheLoaderException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new CacheLoaderException(e);
    }
  }

  private Map<K, V> loadAll(Iterable<? extends K> keysToLoad) {
    try {
      Map<K, V> loaded = loader.loadAll(keysToLoad);
      return loaded == null ? Map.of() : loaded;
    } catch (CacheLoaderException e) {
      throw e;
    } catch (RuntimeException e) {
      throw new CacheLoaderException(e);
    }
  }

  // ---------------------------------------------------------------- writes

  @Override
  public void put(K key, V value) {
    writing(key, value, (name, fresh, start) -> {
      if (put(key, name, value, fresh, true).written) {
        statistics.puts(1);
        statistics.putTime(start);
      }
      return null;
    });
  }

  @Override
  public @Nullable V getAndPut(K key, V value) {
    return writing(key, value, (name, fresh, start) -> {
      PutResult result = put(key, name, value, fresh, true);
      if (result.old == null) {
        statistics.misses(1);
      } else {
        statistics.hits(1);
      }
      if (result.written) {
        statistics.puts(1);
        statistics.putTime(start);
      }
      statistics.getTime(start);
      return result.old == null ? null : decode(result.old);
    });
  }

  private static final class PutResult {
    @Nullable Stored old;
    boolean written;
  }

  /** Stores {@code fresh} (the encoded {@code value}) under {@code key}, creating or updating it. */
  private PutResult put(K key, String name, V value, Stored fresh, boolean writeThrough) {
    PutResult result = new PutResult();
    compute(name, (n, old) -> {
      if (writeThrough) {
        write(key, value);
      }
      long now = now();
      Stored live = live(key, name, old, now);
      if (live == null) {
        Stored stored = created(key, name, fresh, now);
        result.written = stored != null;
        return stored;
      }
      result.old = live;
      result.written = true;
      return updated(key, name, live, fresh, now);
    });
    return result;
  }

  /** A new entry with its creation deadline and a CREATED event; null when it expires at once. */
  private @Nullable Stored created(K key, String name, Stored fresh, long now) {
    long deadline = deadline(creationExpiry(), now, Stored.ETERNAL);
    if (deadline == 0L) {
      publish(EventType.EXPIRED, key, name, fresh, fresh);
      return null;
    }
    Stored stored = fresh.withDeadline(deadline);
    publish(EventType.CREATED, key, name, stored, null);
    return stored;
  }

  /** The new value of an existing entry with its update deadline and an UPDATED event. */
  private Stored updated(K key, String name, Stored old, Stored fresh, long now) {
    Stored stored = fresh.withDeadline(deadline(updateExpiry(), now, old.deadline));
    publish(EventType.UPDATED, key, name, stored, old);
    return stored;
  }

  @Override
  public void putAll(Map<? extends K, ? extends V> entries) {
    requireOpen();
    Map<K, Stored> fresh = new LinkedHashMap<>();
    Map<K, String> names = new HashMap<>();
    entries.forEach((key, value) -> {
      names.put(key, keys.encode(Objects.requireNonNull(key, "key")));
      fresh.put(key, values.encode(Objects.requireNonNull(value, "value"), Stored.ETERNAL));
    });
    long start = statistics.start();
    withEvents(() -> {
      List<Cache.Entry<? extends K, ? extends V>> batch = new ArrayList<>();
      entries.forEach((key, value) -> batch.add(new CacheEntry<>(key, value)));
      Failed failed = writeThrough(batch, b -> writer.writeAll(b), Cache.Entry::getKey);
      int written = 0;
      for (Map.Entry<? extends K, ? extends V> entry : entries.entrySet()) {
        K key = entry.getKey();
        if (!failed.keys().contains(key) && put(key, names.get(key), entry.getValue(), fresh.get(key), false).written) {
          written++;
        }
      }
      if (written > 0) {
        statistics.puts(written);
        statistics.putTime(start);
      }
      failed.rethrow();
      return null;
    });
  }

  @Override
  public boolean putIfAbsent(K key, V value) {
    return writing(key, value, (name, fresh, start) -> {
      PutResult result = putIfAbsent(key, name, value, fresh, true);
      if (result.old != null) {
        statistics.hits(1);
      } else {
        statistics.misses(1);
      }
      if (result.written) {
        statistics.puts(1);
        statistics.putTime(start);
      }
      return result.written;
    });
  }

  private PutResult putIfAbsent(K key, String name, V value, Stored fresh, boolean writeThrough) {
    PutResult result = new PutResult();
    compute(name, (n, old) -> {
      long now = now();
      if (old != null && !old.expired(now)) {
        result.old = old;
        return old;
      }
      if (writeThrough) {
        write(key, value);
      }
      live(key, name, old, now);
      Stored stored = created(key, name, fresh, now);
      result.written = stored != null;
      return stored;
    });
    return result;
  }

  @Override
  public boolean remove(K key) {
    requireOpen();
    String name = keys.encode(Objects.requireNonNull(key, "key"));
    long start = statistics.start();
    return withEvents(() -> {
      if (remove(key, name, true) == null) {
        return false;
      }
      statistics.removals(1);
      statistics.removeTime(start);
      return true;
    });
  }

  /** Removes {@code key}'s entry; returns the live entry it removed (not an expired one), else null. */
  private @Nullable Stored remove(K key, String name, boolean writeThrough) {
    Stored[] removed = {null};
    compute(name, (n, old) -> {
      if (writeThrough) {
        delete(key);
      }
      Stored live = live(key, name, old, now());
      if (live != null) {
        publish(EventType.REMOVED, key, name, live, live);
        removed[0] = live;
      }
      return null;
    });
    return removed[0];
  }

  @Override
  public boolean remove(K key, V oldValue) {
    requireOpen();
    String name = keys.encode(Objects.requireNonNull(key, "key"));
    Objects.requireNonNull(oldValue, "oldValue");
    long start = statistics.start();
    return withEvents(() -> {
      Match match = ifEqual(key, name, oldValue, (old, now) -> {
        delete(key);
        publish(EventType.REMOVED, key, name, old, old);
        return null;
      });
      if (match == Match.ABSENT) {
        statistics.misses(1);
        return false;
      }
      statistics.hits(1);
      if (match == Match.EQUAL) {
        statistics.removals(1);
        statistics.removeTime(start);
      }
      return match == Match.EQUAL;
    });
  }

  @Override
  public @Nullable V getAndRemove(K key) {
    requireOpen();
    String name = keys.encode(Objects.requireNonNull(key, "key"));
    long start = statistics.start();
    return withEvents(() -> {
      Stored removed = remove(key, name, true);
      if (removed == null) {
        statistics.misses(1);
      } else {
        statistics.hits(1);
        statistics.removals(1);
        statistics.removeTime(start);
      }
      statistics.getTime(start);
      return removed == null ? null : decode(removed);
    });
  }

  @Override
  public boolean replace(K key, V oldValue, V newValue) {
    requireOpen();
    Objects.requireNonNull(oldValue, "oldValue");
    return writing(key, newValue, (name, fresh, start) -> {
      Match match = ifEqual(key, name, oldValue, (old, now) -> {
        write(key, newValue);
        return updated(key, name, old, fresh, now);
      });
      statistics.hits(match == Match.ABSENT ? 0 : 1);
      statistics.misses(match == Match.ABSENT ? 1 : 0);
      if (match == Match.EQUAL) {
        statistics.puts(1);
        statistics.putTime(start);
      }
      statistics.getTime(start);
      return match == Match.EQUAL;
    });
  }

  private enum Match {
    ABSENT,
    DIFFERENT,
    EQUAL
  }

  /**
   * The conditional change of {@code remove(k, v)} and {@code replace(k, v, w)}: when the live
   * value equals {@code expected}, the entry becomes what {@code change} makes of it; when it does
   * not, reading it was an access.
   */
  private Match ifEqual(K key, String name, Object expected, BiFunction<Stored, Long, @Nullable Stored> change) {
    Match[] match = {Match.ABSENT};
    compute(name, (n, old) -> {
      long now = now();
      Stored live = live(key, name, old, now);
      if (live == null) {
        return null;
      }
      if (expected.equals(decode(live))) {
        match[0] = Match.EQUAL;
        return change.apply(live, now);
      }
      match[0] = Match.DIFFERENT;
      return live.withDeadline(deadline(accessExpiry(), now, live.deadline));
    });
    return match[0];
  }

  @Override
  public boolean replace(K key, V value) {
    return writing(key, value, (name, fresh, start) -> {
      Stored old = replace(key, name, value, fresh);
      if (old == null) {
        statistics.misses(1);
        statistics.getTime(start);
        return false;
      }
      statistics.hits(1);
      statistics.puts(1);
      statistics.getTime(start);
      statistics.putTime(start);
      return true;
    });
  }

  @Override
  public @Nullable V getAndReplace(K key, V value) {
    return writing(key, value, (name, fresh, start) -> {
      Stored old = replace(key, name, value, fresh);
      if (old == null) {
        statistics.misses(1);
      } else {
        statistics.hits(1);
        statistics.puts(1);
        statistics.putTime(start);
      }
      statistics.getTime(start);
      return old == null ? null : decode(old);
    });
  }

  /** Replaces a live entry's value; returns the entry replaced, or null when there was none. */
  private @Nullable Stored replace(K key, String name, V value, Stored fresh) {
    Stored[] replaced = {null};
    compute(name, (n, old) -> {
      long now = now();
      Stored live = live(key, name, old, now);
      if (live == null) {
        return null;
      }
      write(key, value);
      replaced[0] = live;
      return updated(key, name, live, fresh, now);
    });
    return replaced[0];
  }

  @Override
  public void removeAll(Set<? extends K> keysToRemove) {
    requireOpen();
    removeAll(names(keysToRemove));
  }

  private void removeAll(Map<K, String> names) {
    long start = statistics.start();
    withEvents(() -> {
      Failed failed = writeThrough(new LinkedHashSet<Object>(names.keySet()), b -> writer.deleteAll(b), k -> k);
      int removed = 0;
      for (Map.Entry<K, String> entry : names.entrySet()) {
        if (!failed.keys().contains(entry.getKey()) && remove(entry.getKey(), entry.getValue(), false) != null) {
          removed++;
        }
      }
      if (removed > 0) {
        statistics.removals(removed);
        statistics.removeTime(start);
      }
      failed.rethrow();
      return null;
    });
  }

  @Override
  public void removeAll() {
    requireOpen();
    Map<K, String> names = new LinkedHashMap<>();
    for (String name : map.keySet()) {
      K key = keys.decode(name);
      if (key != null) {
        names.put(key, name);
      }
    }
    removeAll(names);
  }

  @Override
  public void clear() {
    requireOpen();
    try {
      tiered.invalidateAll();
    } catch (io.tiercache.CacheException e) {
      throw new CacheException(e.getMessage(), e);
    }
  }

  @Override
  public void loadAll(Set<? extends K> keysToLoad, boolean replaceExistingValues,
      @Nullable CompletionListener completionListener) {
    requireOpen();
    Map<K, String> names = names(keysToLoad);
    CompletionListener listener = completionListener != null ? completionListener : NO_LISTENER;
    if (loader == null) {
      listener.onCompletion();
      return;
    }
    CompletableFuture<Void> done = new CompletableFuture<>();
    inFlight.add(done);
    try {
      loads.execute(() -> {
        try {
          withEvents(() -> {
            List<K> toLoad = new ArrayList<>();
            names.forEach((key, name) -> {
              Stored stored = replaceExistingValues ? null : read(name);
              if (stored == null || stored.expired(now())) {
                toLoad.add(key);
              }
            });
            loadAll(toLoad).forEach((key, value) -> {
              String name = key == null ? null : names.get(key);
              if (name != null && value != null) {
                Stored fresh = values.encode(value, Stored.ETERNAL);
                if (replaceExistingValues) {
                  put(key, name, value, fresh, false);
                } else {
                  putIfAbsent(key, name, value, fresh, false);
                }
              }
            });
            return null;
          });
          listener.onCompletion();
        } catch (CacheLoaderException e) {
          listener.onException(e);
        } catch (RuntimeException e) {
          listener.onException(new CacheLoaderException(e));
        } finally {
          inFlight.remove(done);
          done.complete(null);
        }
      });
    } catch (RuntimeException e) {
      inFlight.remove(done);
      listener.onException(new CacheLoaderException(e));
    }
  }

  private static final CompletionListener NO_LISTENER = new CompletionListener() {
    @Override
    public void onCompletion() {}

    @Override
    public void onException(Exception e) {}
  };

  // ---------------------------------------------------------------- entry processors

  @Override
  @SuppressWarnings("unchecked")
  public <T> @Nullable T invoke(K key, EntryProcessor<K, V, T> processor, Object... arguments) {
    requireOpen();
    String name = keys.encode(Objects.requireNonNull(key, "key"));
    Objects.requireNonNull(processor, "processor");
    Objects.requireNonNull(arguments, "arguments");
    Object[] result = {null};
    Throwable[] failure = {null};
    withEvents(() -> {
      compute(name, (n, old) -> {
        long now = now();
        Stored prior = live(key, name, old, now);
        if (prior == null) {
          statistics.misses(1);
        } else {
          statistics.hits(1);
        }
        ProcessorEntry<K, V> entry = new ProcessorEntry<>(key, prior == null ? null : decode(prior),
            readThrough ? loader : null);
        try {
          result[0] = processor.process(entry, arguments);
          return apply(key, name, prior, entry, now);
        } catch (Throwable e) {
          if (prior == old) {
            throw processorFailure(e); // nothing changed: abort the compute
          }
          failure[0] = e; // the expired entry's removal stands
          return null;
        }
      });
      if (failure[0] != null) {
        throw processorFailure(failure[0]);
      }
      return null;
    });
    return (T) result[0];
  }

  private static RuntimeException processorFailure(Throwable e) {
    if (e instanceof Error error) {
      throw error;
    }
    return e instanceof EntryProcessorException p ? p : new EntryProcessorException(e);
  }

  /** What an entry processor did, applied to the entry: the new entry, or null for none. */
  private @Nullable Stored apply(K key, String name, @Nullable Stored prior, ProcessorEntry<K, V> entry, long now) {
    switch (entry.action()) {
      case NONE:
        return prior;
      case READ:
        return prior.withDeadline(deadline(accessExpiry(), now, prior.deadline));
      case CREATED:
      case LOADED: {
        V value = entry.getValue();
        Stored fresh = values.encode(value, Stored.ETERNAL);
        if (entry.action() == ProcessorEntry.Action.CREATED) {
          write(key, value);
        }
        Stored stored = created(key, name, fresh, now);
        if (stored != null && entry.action() == ProcessorEntry.Action.CREATED) {
          statistics.puts(1);
        }
        return stored;
      }
      case UPDATED: {
        V value = entry.getValue();
        Stored fresh = values.encode(value, Stored.ETERNAL);
        write(key, value);
        statistics.puts(1);
        return updated(key, name, prior, fresh, now);
      }
      case DELETED:
        delete(key);
        if (prior != null) {
          statistics.removals(1);
          publish(EventType.REMOVED, key, name, prior, prior);
        }
        return null;
      default:
        throw new IllegalStateException("unknown action " + entry.action());
    }
  }

  @Override
  public <T> Map<K, EntryProcessorResult<T>> invokeAll(Set<? extends K> keysToProcess,
      EntryProcessor<K, V, T> processor, Object... arguments) {
    requireOpen();
    Objects.requireNonNull(processor, "processor");
    Objects.requireNonNull(arguments, "arguments");
    Map<K, String> names = names(keysToProcess);
    Map<K, EntryProcessorResult<T>> results = new HashMap<>();
    for (K key : names.keySet()) {
      try {
        T result = invoke(key, processor, arguments);
        if (result != null) {
          results.put(key, () -> result);
        }
      } catch (EntryProcessorException e) {
        results.put(key, () -> {
          throw e;
        });
      } catch (RuntimeException e) {
        EntryProcessorException wrapped = new EntryProcessorException(e);
        results.put(key, () -> {
          throw wrapped;
        });
      }
    }
    return results;
  }

  // ---------------------------------------------------------------- iteration

  @Override
  public Iterator<Cache.Entry<K, V>> iterator() {
    requireOpen();
    return new EntryIterator();
  }

  /**
   * The live entries as the store has them (weakly consistent: changes made during the
   * iteration may or may not be seen). Each entry returned counts as a hit and as an access.
   */
  private final class EntryIterator implements Iterator<Cache.Entry<K, V>> {
    private final Iterator<Map.Entry<String, Stored>> entries = map.entrySet().iterator();
    private Cache.@Nullable Entry<K, V> next;
    private @Nullable K last;

    @Override
    public boolean hasNext() {
      while (next == null && entries.hasNext()) {
        Map.Entry<String, Stored> entry = entries.next();
        K key = keys.decode(entry.getKey());
        Stored stored = entry.getValue();
        long now = now();
        if (key != null && !stored.expired(now)) {
          touch(entry.getKey(), stored, now);
          next = new CacheEntry<>(key, decode(stored));
        }
      }
      return next != null;
    }

    @Override
    public Cache.Entry<K, V> next() {
      if (!hasNext()) {
        throw new NoSuchElementException();
      }
      Cache.Entry<K, V> entry = next;
      next = null;
      last = entry.getKey();
      statistics.hits(1);
      return entry;
    }

    @Override
    public void remove() {
      if (last == null) {
        throw new IllegalStateException("next() was not called, or remove() was already called");
      }
      TieredJCache.this.remove(last);
      last = null;
    }
  }

  // ---------------------------------------------------------------- the rest of the API

  @Override
  public String getName() {
    return name;
  }

  @Override
  public CacheManager getCacheManager() {
    return manager;
  }

  @Override
  public boolean isClosed() {
    return closed;
  }

  @Override
  public <C extends Configuration<K, V>> C getConfiguration(Class<C> clazz) {
    synchronized (this) {
      if (clazz.isInstance(configuration)) {
        return clazz.cast(new TieredConfiguration<>(configuration));
      }
    }
    throw new IllegalArgumentException("the configuration of a tiercache JCache cache is not a " + clazz.getName());
  }

  @Override
  public <T> T unwrap(Class<T> clazz) {
    if (clazz.isInstance(this)) {
      return clazz.cast(this);
    }
    throw new IllegalArgumentException("cannot unwrap a tiercache JCache cache to " + clazz.getName());
  }

  @Override
  public synchronized void registerCacheEntryListener(CacheEntryListenerConfiguration<K, V> listener) {
    requireOpen();
    configuration.addCacheEntryListenerConfiguration(listener);
    events.register(listener);
  }

  @Override
  public synchronized void deregisterCacheEntryListener(CacheEntryListenerConfiguration<K, V> listener) {
    Objects.requireNonNull(listener, "listener");
    requireOpen();
    configuration.removeCacheEntryListenerConfiguration(listener);
    events.deregister(listener);
  }

  synchronized void enableManagement(boolean enabled) {
    requireOpen();
    if (enabled) {
      Management.register(this, Management.Type.CacheConfiguration, configurationBean);
    } else {
      Management.unregister(this, Management.Type.CacheConfiguration);
    }
    configuration.setManagementEnabled(enabled);
  }

  synchronized void enableStatistics(boolean enabled) {
    requireOpen();
    if (enabled) {
      Management.register(this, Management.Type.CacheStatistics, statistics);
    } else {
      Management.unregister(this, Management.Type.CacheStatistics);
    }
    statistics.enable(enabled);
    configuration.setStatisticsEnabled(enabled);
  }

  /** The statistics MXBean, for tests in this package. */
  Statistics statistics() {
    return statistics;
  }

  /**
   * Closes this cache: the tiered cache beneath is flushed and released (its content stays for
   * the next open), the loader, writer, expiry policy and listeners are closed if closeable.
   */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      List<Throwable> failures = new ArrayList<>();
      run(failures, () -> enableManagement(false));
      run(failures, () -> enableStatistics(false));
      closed = true;
      manager.forget(name, this);
      run(failures, () -> CompletableFuture.allOf(inFlight.toArray(CompletableFuture[]::new)).get(10, TimeUnit.SECONDS));
      run(failures, () -> closeIfCloseable(expiry));
      run(failures, () -> closeIfCloseable(loader));
      run(failures, () -> closeIfCloseable(writer));
      for (Events.Registration<K, V> registration : events.registrations()) {
        run(failures, () -> closeIfCloseable(registration.listener()));
      }
      run(failures, tiered::close);
      for (Throwable failure : failures) {
        LOG.log(Level.WARNING, "tiercache: closing the JCache cache " + name + " failed in part", failure);
      }
    }
  }

  private interface Step {
    void run() throws Exception;
  }

  private static void run(List<Throwable> failures, Step step) {
    try {
      step.run();
    } catch (Exception e) {
      failures.add(e);
    }
  }

  private static void closeIfCloseable(@Nullable Object o) throws Exception {
    if (o instanceof AutoCloseable closeable) {
      closeable.close();
    }
  }

  // ---------------------------------------------------------------- helpers

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the cache " + name + " is closed");
    }
  }

  private long now() {
    return clock.getAsLong();
  }

  /** The store's names of {@code keysToName}, in their order. */
  private Map<K, String> names(Set<? extends K> keysToName) {
    Objects.requireNonNull(keysToName, "keys");
    Map<K, String> names = new LinkedHashMap<>();
    for (K key : keysToName) {
      names.put(key, keys.encode(Objects.requireNonNull(key, "a key in the set")));
    }
    return names;
  }

  @SuppressWarnings("unchecked")
  private V decode(Stored stored) {
    return (V) values.decode(stored);
  }

  private @Nullable Stored compute(String name, BiFunction<String, @Nullable Stored, @Nullable Stored> change) {
    try {
      return map.compute(name, change);
    } catch (io.tiercache.CacheException e) {
      throw new CacheException(e.getMessage(), e);
    }
  }

  /** A single-key write, given the key's name, the value's encoding and the start time of the operation. */
  private interface Write<T> {
    T apply(String name, Stored fresh, long start);
  }

  /** Checks and encodes the key and the value of a single-key write, then runs it {@link #withEvents}. */
  private <T> T writing(K key, V value, Write<T> write) {
    requireOpen();
    String name = keys.encode(Objects.requireNonNull(key, "key"));
    Stored fresh = values.encode(Objects.requireNonNull(value, "value"), Stored.ETERNAL);
    long start = statistics.start();
    return withEvents(() -> write.apply(name, fresh, start));
  }

  /** Runs an operation, then waits for the synchronous listeners it notified, even if it failed. */
  private <T> T withEvents(Supplier<T> operation) {
    T result;
    try {
      result = operation.get();
    } catch (RuntimeException | Error e) {
      CacheEntryListenerException failure = events.awaitSynchronousFailure();
      if (failure != null) {
        e.addSuppressed(failure);
      }
      throw e;
    }
    events.awaitSynchronous();
    return result;
  }

  private void publish(EventType type, K key, String name, @Nullable Stored value, @Nullable Stored oldValue) {
    if (events.active()) {
      events.publish(this, type, keys.copy(key, name), name, value, oldValue, values);
    }
  }

  /** What a batch write-through failed on: the keys the writer left in its batch, and why. */
  private record Failed(Set<Object> keys, @Nullable CacheWriterException error) {
    static final Failed NONE = new Failed(Set.of(), null);

    void rethrow() {
      if (error != null) {
        throw error;
      }
    }
  }

  /**
   * Hands {@code batch} to the writer's batch method ({@code writeAll}, {@code deleteAll}), which
   * removes from it what it wrote; what it left there when it failed is not applied to the cache.
   */
  private <E> Failed writeThrough(Collection<E> batch, java.util.function.Consumer<Collection<E>> call,
      java.util.function.Function<E, ?> keyOf) {
    if (writer == null || batch.isEmpty()) {
      return Failed.NONE;
    }
    try {
      call.accept(batch);
      return Failed.NONE;
    } catch (RuntimeException e) {
      Set<Object> keys = new HashSet<>();
      batch.forEach(element -> keys.add(keyOf.apply(element)));
      return new Failed(keys, e instanceof CacheWriterException w ? w : new CacheWriterException(e));
    }
  }

  private void write(K key, V value) {
    if (writer != null) {
      try {
        writer.write(new CacheEntry<>(key, value));
      } catch (CacheWriterException e) {
        throw e;
      } catch (RuntimeException e) {
        throw new CacheWriterException(e);
      }
    }
  }

  private void delete(K key) {
    if (writer != null) {
      try {
        writer.delete(key);
      } catch (CacheWriterException e) {
        throw e;
      } catch (RuntimeException e) {
        throw new CacheWriterException(e);
      }
    }
  }

  // ---------------------------------------------------------------- expiry

  private @Nullable Duration creationExpiry() {
    try {
      Duration d = expiry.getExpiryForCreation();
      return d != null ? d : Duration.ETERNAL;
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "tiercache: the expiry policy failed; the entry does not expire", e);
      return Duration.ETERNAL;
    }
  }

  private @Nullable Duration updateExpiry() {
    try {
      return expiry.getExpiryForUpdate();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "tiercache: the expiry policy failed; the entry keeps its deadline", e);
      return null;
    }
  }

  private @Nullable Duration accessExpiry() {
    try {
      return expiry.getExpiryForAccess();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "tiercache: the expiry policy failed; the entry keeps its deadline", e);
      return null;
    }
  }

  /**
   * The deadline {@code duration} from {@code now}: {@link Stored#ETERNAL} for eternal, 0 for
   * zero (expired at once), {@code unchanged} for null.
   */
  static long deadline(@Nullable Duration duration, long now, long unchanged) {
    if (duration == null) {
      return unchanged;
    }
    if (duration.isEternal()) {
      return Stored.ETERNAL;
    }
    if (duration.isZero()) {
      return 0L;
    }
    long deadline = duration.getAdjustedTime(now);
    return deadline == Stored.ETERNAL || deadline == 0L ? deadline - 1 : deadline;
  }
}
