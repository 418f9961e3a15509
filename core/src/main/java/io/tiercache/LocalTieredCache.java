package io.tiercache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Policy;
import io.tiercache.stats.CacheStats;
import java.lang.System.Logger.Level;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The {@link TieredCache} implementation: a Caffeine cache of decoded values over a
 * {@link PersistentStore} of encoded ones.
 *
 * <p>Every write to a key runs inside the front tier's {@code compute} for that key, which orders
 * the store's change and the front tier's per key; the durable part ({@link PersistentStore#await})
 * runs after, outside Caffeine's lock. Front-tier values carry the store's epoch at the time
 * they were read or written: after a clear, a replace or a reload, older values are misses, with
 * no need to race {@code invalidateAll} against writes in flight.
 *
 * <p>Loads (single, bulk, async) run outside Caffeine's lock, registered per key in {@link #loading}:
 * a caller that finds a load in flight shares its future, so a key loads once however it is asked
 * for, and no thread waits for a load it does not run. A write to a key removes its registration
 * (a clear or a replace removes every one), so a load that finishes after it does not store its
 * older result. Refreshes are registered apart ({@link #refreshing}): readers keep the current
 * value meanwhile.
 */
final class LocalTieredCache<K, V> implements TieredCache<K, V> {
  private static final System.Logger LOG = System.getLogger(LocalTieredCache.class.getName());
  /** The back-off after a failed load while a stale value is served: doubles from the first to the last. */
  static final long FIRST_RETRY_MILLIS = 1_000;
  static final long LAST_RETRY_MILLIS = 60_000;

  /** A decoded value, the store epoch it belongs to, and when it expires. */
  static final class Tagged<V> {
    final V value;
    final long epoch;
    final long expiresAtMillis;
    /** When it was written here, or the earliest it can have been written elsewhere (refreshAfterWrite). */
    final long writtenAtMillis;
    /** The length of its encoded JSON: its weight unless the builder has a weigher. */
    final int encodedLength;

    Tagged(V value, long epoch, long expiresAtMillis, long writtenAtMillis, int encodedLength) {
      this.value = value;
      this.epoch = epoch;
      this.expiresAtMillis = expiresAtMillis;
      this.writtenAtMillis = writtenAtMillis;
      this.encodedLength = encodedLength;
    }
  }

  /** A key (or the whole content) whose loader failed while a stale value was served. */
  private record Outage(long retryAtMillis, long backoffMillis) {
    static final Outage FIRST = new Outage(0, FIRST_RETRY_MILLIS);

    Outage next(long now) {
      long backoff = this == FIRST ? FIRST_RETRY_MILLIS : Math.min(backoffMillis * 2, LAST_RETRY_MILLIS);
      return new Outage(now + backoff, backoff);
    }
  }

  /** An event for the removal listener, decided when the change happens and delivered after it. */
  private record Removal<K, V>(K key, V value, RemovalCause cause) {}

  /** A load registered in {@link #loading}, and the thread running it: that thread asking for its key waits forever. */
  private static final class Load<V> extends CompletableFuture<@Nullable Tagged<V>> {
    volatile @Nullable Thread runner;
  }

  /** What a front-tier compute found, carried out of its lambda. */
  private static final class Outcome<V> {
    static final int MISS = 0;
    static final int FRONT = 1;
    static final int PERSISTENT = 2;
    int source = MISS;
    @Nullable Tagged<V> replaced;
    PersistentStore.@Nullable Write write;
  }

  final PersistentStore store;
  private final KeyFormat<K> keys;
  private final Codec<V> codec;
  private final Class<V> valueType;
  private final Clock clock;
  private final String location;
  private final long ttlMillis;
  private final long staleGraceMillis;
  private final long refreshAfterMillis;
  private final Executor executor;
  private final @Nullable RemovalListener<? super K, ? super V> removalListener;
  private final @Nullable Weigher<? super K, ? super V> weigher;
  private final StatsRecorder stats;
  private final FrontMaintenance maintenance = new FrontMaintenance();
  private final Cache<K, Tagged<V>> front;
  /** Null unless the front tier is bounded (by size or weight) over a store whose reads are local. */
  private final @Nullable Doorkeeper doorkeeper;
  /** The front tier's weight; null unless it is bounded by weight. */
  private final Policy.@Nullable Eviction<K, Tagged<V>> weightedEviction;
  private final ConcurrentHashMap<K, Load<V>> loading = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<K, Object> refreshing = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<K, Outage> outages = new ConcurrentHashMap<>();
  /** The outage of {@link AssetCache#getAll(java.util.function.Supplier)}'s whole-content fetch, under "". */
  private final ConcurrentHashMap<String, Outage> contentOutages = new ConcurrentHashMap<>();
  /** Held around that fetch: here, not in the handle, since the SDK opens a handle per call. */
  final ReentrantLock contentFetch = new ReentrantLock();
  /**
   * Orders every "check that a load still owns its key, then write its result to the store" (read
   * lock, see {@link #enterOwnedStore}) against "supersede every load, then clear or replace the
   * store" (write lock): otherwise a load that passed its check could write after the clear.
   * Readers take it inside the front tier's compute but only by tryLock, so they never wait while
   * holding a key's lock; the writer holds no key's lock of its own while it waits (a compute function
   * that clears the cache would, which ConcurrentHashMap's contract already forbids).
   */
  private final ReentrantReadWriteLock wholeWrites = new ReentrantReadWriteLock();
  private final Set<String> reportedUndecodable = ConcurrentHashMap.newKeySet();
  /** Set while the executor throws on refreshes (not by rejecting): warned once until one is scheduled. */
  private volatile boolean refreshUnscheduled;
  private final MapView view = new MapView();
  /** Drops front-tier values that other writers (processes, other handles) replaced. */
  private final PersistentStore.Listener listener = new PersistentStore.Listener() {
    @Override
    public void invalidate(String name) {
      K key = keys.parse(name);
      if (key != null) {
        deliver(removal(key, front.asMap().remove(key), RemovalCause.REMOTE));
      }
      reportedUndecodable.remove(name);
    }

    @Override
    public void invalidateAll() {
      List<Removal<K, V>> removals = frontRemovals(k -> RemovalCause.REMOTE);
      front.invalidateAll();
      removals.forEach(LocalTieredCache.this::deliver);
    }
  };

  LocalTieredCache(PersistentStore store, CacheConfig<K, V> config, String location) {
    this.store = store;
    this.keys = config.keys();
    this.codec = config.codec();
    this.valueType = config.valueType();
    this.clock = config.store().clock();
    this.location = location;
    this.ttlMillis = config.store().expireAfter().toMillis();
    this.staleGraceMillis = config.store().staleGrace().toMillis();
    // Ages are in the clock's milliseconds: a period under one rounds up to one, never down to "off".
    Duration refreshAfter = config.refreshAfterWrite();
    this.refreshAfterMillis = refreshAfter.isZero() ? 0 : Math.max(1, refreshAfter.plusNanos(999_999).toMillis());
    this.executor = config.executor();
    this.removalListener = config.removalListener();
    this.weigher = config.weigher();
    this.stats = new StatsRecorder(config.recordStats());
    this.front = buildFront(config);
    boolean weighted = config.maximumWeight() >= 0;
    long bound = weighted ? config.maximumWeight() : config.maximumSize();
    this.doorkeeper = bound >= 0 && store.readsAreLocal() ? new Doorkeeper(bound) : null;
    this.weightedEviction = weighted ? front.policy().eviction().orElseThrow() : null;
    store.listeners().add(listener);
  }

  private Cache<K, Tagged<V>> buildFront(CacheConfig<K, V> config) {
    Caffeine<Object, Object> caffeine = Caffeine.newBuilder().executor(maintenance);
    // No Caffeine expiry: its clock read and timer wheel cost more than the one deadline check
    // current() makes, and content expires by deadline and epoch, which Caffeine does not know.
    // No Caffeine statistics either: it would count the computes that order writes as loads.
    if (config.maximumSize() >= 0) {
      caffeine.maximumSize(config.maximumSize());
    } else if (config.maximumWeight() >= 0) {
      caffeine.maximumWeight(config.maximumWeight()).weigher(this::weigh);
    } else {
      return caffeine.build();
    }
    if (config.recordStats() || removalListener != null) {
      return caffeine.evictionListener(this::evicted).build();
    }
    return caffeine.build();
  }

  /** Every front-tier compute: it runs the maintenance it schedules on this thread (see {@link FrontMaintenance}). */
  private @Nullable Tagged<V> writeFront(K key,
      BiFunction<? super K, ? super @Nullable Tagged<V>, ? extends @Nullable Tagged<V>> remapping) {
    return maintenance.compute(front.asMap(), key, remapping);
  }

  private int weigh(Object key, Object value) {
    @SuppressWarnings("unchecked")
    Tagged<V> tagged = (Tagged<V>) value;
    @SuppressWarnings("unchecked")
    K k = (K) key;
    return weigher == null ? tagged.encodedLength : weigher.weigh(k, tagged.value);
  }

  private void evicted(@Nullable Object key, @Nullable Object value, com.github.benmanes.caffeine.cache.RemovalCause cause) {
    if (cause == com.github.benmanes.caffeine.cache.RemovalCause.SIZE && key != null && value != null) {
      @SuppressWarnings("unchecked")
      K k = (K) key;
      @SuppressWarnings("unchecked")
      Tagged<V> tagged = (Tagged<V>) value;
      stats.recordEviction(weightedEviction != null ? weigh(k, tagged) : 1);
      deliver(removal(k, tagged, RemovalCause.SIZE));
    }
  }

  /** A front value is served only while its content is current and its deadline not reached. */
  private boolean current(Tagged<V> tagged) {
    return current(tagged, clock.millis());
  }

  private boolean current(Tagged<V> tagged, long nowMillis) {
    return tagged.epoch == store.epoch() && nowMillis < tagged.expiresAtMillis && store.frontConfirmed(nowMillis);
  }

  /** The front-tier value of a local write or load. */
  private Tagged<V> tagged(V value, PersistentStore.Write write, int encodedLength) {
    return new Tagged<>(value, write.epoch, write.expiresAtMillis, clock.millis(), encodedLength);
  }

  /** A loaded value that was not stored (a write to its key came first): only its value is read. */
  private Tagged<V> unstored(V value) {
    return new Tagged<>(value, -1, 0, 0, 0);
  }

  // ---------------------------------------------------------------- reads

  @Override
  public @Nullable V getIfPresent(K key) {
    Tagged<V> tagged = frontHit(key, null);
    if (tagged != null) {
      return tagged.value;
    }
    String name = keys.format(key);
    // Inside a compute function, keeping the value would lock this key while another is locked.
    return valueOf(FrontMaintenance.computing() ? readThrough(name, true) : lookup(key, name, true));
  }

  /**
   * The front tier's current value for {@code key} (a hit, recorded), or null. With a loader, an
   * old value is also refreshed in the background.
   */
  private @Nullable Tagged<V> frontHit(K key, @Nullable Function<? super K, ? extends @Nullable V> loader) {
    store.poll();
    Tagged<V> tagged = front.getIfPresent(key);
    if (tagged == null) {
      return null;
    }
    long now = clock.millis();
    if (!current(tagged, now)) {
      return null;
    }
    maintenance.afterHit(now);
    stats.recordFrontHit();
    if (loader != null) {
      refreshIfOld(key, tagged, loader);
    }
    return tagged;
  }

  /**
   * The current value from the front tier, else from the persistent tier (then kept in the front
   * tier, unless the {@link Doorkeeper} holds a first read back); null when neither has one. Records
   * which tier answered when {@code record}.
   */
  private @Nullable Tagged<V> lookup(K key, String name, boolean record) {
    if (doorkeeper != null && !admitted(doorkeeper, key)
        && front.policy().getIfPresentQuietly(key) == null) {
      return readThrough(name, record); // a first read: served, not kept (an expired entry is replaced below)
    }
    Outcome<V> out = new Outcome<>();
    Tagged<V> result = writeFront(key, (k, old) -> {
      if (old != null && current(old)) {
        out.source = Outcome.FRONT;
        return old;
      }
      Tagged<V> stored = fromStore(name);
      if (stored != null) {
        out.source = Outcome.PERSISTENT;
        out.replaced = old;
        return stored;
      }
      if (old != null && heldForStale(old)) {
        return old; // not served: kept for stale-if-error
      }
      out.replaced = old;
      return null;
    });
    deliver(removal(key, out.replaced, RemovalCause.EXPIRED));
    if (record) {
      switch (out.source) {
        case Outcome.FRONT -> stats.recordFrontHit();
        case Outcome.PERSISTENT -> stats.recordPersistentHit();
        default -> stats.recordMiss();
      }
    }
    return out.source == Outcome.MISS ? null : result;
  }

  /** Asks the doorkeeper, with the front tier's use of its bound: its weight if bounded by weight, else its entries. */
  private boolean admitted(Doorkeeper doorkeeper, K key) {
    long entries = front.estimatedSize();
    long used = weightedEviction == null ? entries : weightedEviction.weightedSize().orElseThrow();
    return doorkeeper.admit(key, used, entries);
  }

  /** The store's current value, not kept in the front tier. Records which tier answered when {@code record}. */
  private @Nullable Tagged<V> readThrough(String name, boolean record) {
    Tagged<V> stored = fromStore(name);
    if (!record) {
      return stored;
    }
    if (stored != null) {
      stats.recordPersistentHit();
    } else {
      stats.recordMiss();
    }
    return stored;
  }

  /** True for an expired front value that stale-if-error may still serve. */
  private boolean heldForStale(Tagged<V> tagged) {
    return staleGraceMillis > 0 && tagged.epoch == store.epoch()
        && clock.millis() - tagged.expiresAtMillis < staleGraceMillis;
  }

  /** The store's value decoded and tagged, or null when absent, expired or undecodable. */
  private @Nullable Tagged<V> fromStore(String name) {
    long epoch = store.epoch(); // read first: a clear in between leaves the value tagged stale
    PersistentStore.Value stored = store.get(name);
    if (stored == null) {
      return null;
    }
    V value = decode(name, stored.bytes);
    return value == null ? null
        : new Tagged<>(value, epoch, stored.expiresAtMillis, stored.expiresAtMillis - ttlMillis, stored.bytes.length);
  }

  private @Nullable V decode(String name, Encoded bytes) {
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
  public @Nullable V get(K key, Function<? super K, ? extends @Nullable V> loader) {
    Tagged<V> tagged = frontHit(key, Objects.requireNonNull(loader, "loader"));
    if (tagged != null) {
      return tagged.value;
    }
    if (FrontMaintenance.computing()) {
      return readThroughInCompute(List.of(key)).get(key);
    }
    return valueOf(join(load(key, loader, null)));
  }

  /**
   * Inside a compute function: the store's values of {@code keysToRead}, read without locking them
   * in the front tier (a compute reading the other way may hold one; its own key would be a recursive
   * update). A load would keep its value under that lock, so a miss fails instead.
   */
  private Map<K, V> readThroughInCompute(Iterable<? extends K> keysToRead) {
    Map<K, V> found = new LinkedHashMap<>();
    List<K> missed = new ArrayList<>();
    for (K key : keysToRead) {
      Tagged<V> tagged = readThrough(keys.format(key), true);
      if (tagged != null) {
        found.put(key, tagged.value);
      } else {
        missed.add(key);
      }
    }
    if (!missed.isEmpty()) {
      throw new IllegalStateException("tiercache: a compute function of " + location + " asked to load "
          + missed.stream().map(k -> "'" + keys.format(k) + "'").toList() + ", which neither tier holds; a"
          + " load there could deadlock with another compute. Load before the compute, or use getAsync");
    }
    return found;
  }

  @Override
  public CompletableFuture<@Nullable V> getAsync(K key, Function<? super K, ? extends @Nullable V> loader) {
    Tagged<V> tagged = frontHit(key, Objects.requireNonNull(loader, "loader"));
    return tagged != null ? CompletableFuture.completedFuture(tagged.value)
        : load(key, loader, executor).thenApply(LocalTieredCache::valueOf);
  }

  private static <V> @Nullable V valueOf(@Nullable Tagged<V> tagged) {
    return tagged == null ? null : tagged.value;
  }

  /**
   * The load of {@code key} in flight, or a new one that {@code runner} runs (null: this thread,
   * before returning).
   */
  private CompletableFuture<@Nullable Tagged<V>> load(K key, Function<? super K, ? extends @Nullable V> loader,
      @Nullable Executor runner) {
    Load<V> mine = new Load<>();
    Load<V> theirs = loading.putIfAbsent(key, mine);
    if (theirs != null) {
      if (runner == null) {
        requireNotRecursive(key, theirs);
      }
      stats.recordMiss();
      return theirs;
    }
    Runnable task = () -> {
      mine.runner = Thread.currentThread();
      try {
        settle(key, mine, loadOnce(key, loader, mine));
      } catch (Throwable t) {
        fail(key, mine, t);
      }
    };
    run(task, runner, e -> fail(key, mine, e));
    return mine;
  }

  /** Fails a load that would wait for one this thread runs (its loader asked for its own key), as Caffeine does. */
  private static void requireNotRecursive(Object key, Load<?> theirs) {
    if (theirs.runner == Thread.currentThread()) {
      throw new IllegalStateException("recursive load: the loader of '" + key + "' asked the cache for '" + key + "'");
    }
  }

  /**
   * Runs {@code task} here (null {@code runner}) or hands it to {@code runner}; {@code unrun} if it
   * cannot. An executor's Error (no thread could be created) is rethrown after {@code unrun}: left
   * registered, the task's keys would make every later load of them wait forever.
   */
  private static void run(Runnable task, @Nullable Executor runner, Consumer<Throwable> unrun) {
    if (runner == null) {
      task.run();
      return;
    }
    try {
      runner.execute(task);
    } catch (RuntimeException e) { // rejected, or an executor that throws something else
      unrun.accept(e);
    } catch (Error e) {
      unrun.accept(e);
      throw e;
    }
  }

  private void settle(K key, CompletableFuture<@Nullable Tagged<V>> future, @Nullable Tagged<V> result) {
    loading.remove(key, future);
    future.complete(result);
  }

  private void fail(K key, CompletableFuture<@Nullable Tagged<V>> future, Throwable failure) {
    loading.remove(key, future);
    future.completeExceptionally(failure);
  }

  /** Runs by the one caller that registered {@code future} for {@code key}. */
  private @Nullable Tagged<V> loadOnce(K key, Function<? super K, ? extends @Nullable V> loader,
      CompletableFuture<@Nullable Tagged<V>> future) {
    String name = keys.format(key);
    Tagged<V> present = lookup(key, name, true); // a load may have ended between our front read and now
    if (present != null) {
      refreshIfOld(key, present, loader);
      return present;
    }
    Tagged<V> stale = staleDuringBackoff(key, name);
    if (stale != null) {
      return stale;
    }
    try (PersistentStore.Lease lease = store.lease(name)) {
      if (lease != PersistentStore.Lease.NONE) {
        present = lookup(key, name, false); // another process may have loaded it while we waited
        if (present != null) {
          return present;
        }
      }
      V value;
      long start = System.nanoTime();
      try {
        value = loader.apply(key);
      } catch (RuntimeException e) {
        stats.recordLoad(false, System.nanoTime() - start);
        return staleOrThrow(key, name, e);
      }
      stats.recordLoad(value != null, System.nanoTime() - start);
      outages.remove(key);
      return value == null ? null : storeLoaded(key, name, value, future, loading);
    }
  }

  /**
   * Stores a loaded value unless a write to its key came first (its registration in
   * {@code registry} is no longer {@code owner}). Returns the value, stored or not.
   */
  private Tagged<V> storeLoaded(K key, String name, V value, Object owner, Map<K, ?> registry) {
    byte[] encoded = codec.encode(value);
    Outcome<V> out = new Outcome<>();
    Tagged<V> stored = writeFront(key, (k, old) -> {
      if (!enterOwnedStore()) {
        return old;
      }
      try {
        if (registry.get(k) != owner) {
          return old;
        }
        refreshing.remove(k); // a refresh in flight would store an older value
        out.write = store.put(name, encoded);
      } finally {
        wholeWrites.readLock().unlock();
      }
      out.replaced = old;
      return tagged(value, out.write, encoded.length);
    });
    if (out.write == null) {
      return unstored(value);
    }
    stats.recordPuts(1);
    Removal<K, V> removal = removal(key, out.replaced, RemovalCause.REPLACED);
    finish(key, name, out.write, stored);
    deliver(removal);
    return stored;
  }

  /**
   * Before a load's result is written to the store: false when a clear or replace holds or waits for
   * {@link #wholeWrites}, since it supersedes every load in flight anyway; else holds the read lock,
   * which the caller releases once its check and its write are done. Never waits.
   */
  private boolean enterOwnedStore() {
    // A waiting writer goes first: loads that kept taking the read lock could starve it.
    return !wholeWrites.hasQueuedThreads() && wholeWrites.readLock().tryLock();
  }

  // ---------------------------------------------------------------- refresh ahead

  /** Reloads {@code key} in the background when {@code tagged} is older than refreshAfterWrite. */
  private void refreshIfOld(K key, Tagged<V> tagged, Function<? super K, ? extends @Nullable V> loader) {
    if (refreshAfterMillis == 0) {
      return;
    }
    long now = clock.millis();
    if (now - tagged.writtenAtMillis < refreshAfterMillis || refreshing.containsKey(key)) {
      return;
    }
    Outage outage = outages.get(key);
    if (outage != null && now < outage.retryAtMillis) {
      return; // the loader failed lately: wait for the back-off
    }
    Object token = new Object();
    if (refreshing.putIfAbsent(key, token) != null) {
      return;
    }
    try {
      executor.execute(() -> refresh(key, loader, token));
      if (refreshUnscheduled) {
        refreshUnscheduled = false; // the next failure warns again
      }
    } catch (RuntimeException e) {
      // As Caffeine's refreshIfNeeded: the hit is current, only its reload could not start.
      refreshing.remove(key, token); // else no later hit would refresh the key
      if (!(e instanceof RejectedExecutionException) && !refreshUnscheduled) {
        refreshUnscheduled = true;
        LOG.log(Level.WARNING, "tiercache: the executor of " + location + " cannot run a refresh of '"
            + keys.format(key) + "'; serving the current value until it expires", e);
      }
    } catch (Error e) {
      refreshing.remove(key, token);
      throw e;
    }
  }

  private void refresh(K key, Function<? super K, ? extends @Nullable V> loader, Object token) {
    String name = keys.format(key);
    try (PersistentStore.Lease lease = store.lease(name)) {
      if (lease != PersistentStore.Lease.NONE) {
        Tagged<V> stored = fromStore(name);
        if (stored != null && clock.millis() - stored.writtenAtMillis < refreshAfterMillis) {
          // Another process refreshed it while we waited for the lease: take its value.
          writeFront(key, (k, current) -> current != null && refreshing.get(k) == token ? stored : current);
          return;
        }
      }
      V value;
      long start = System.nanoTime();
      try {
        value = loader.apply(key);
      } catch (RuntimeException e) {
        stats.recordLoad(false, System.nanoTime() - start);
        if (startOutage(outages, key)) {
          LOG.log(Level.WARNING, "tiercache: refreshing '" + name + "' in " + location + " failed (" + e
              + "); keeping the current value until it expires, and trying again after a back-off");
        }
        return;
      }
      stats.recordLoad(value != null, System.nanoTime() - start);
      outages.remove(key);
      if (value != null) {
        storeLoaded(key, name, value, token, refreshing);
      } else {
        removeIfOwned(key, name, token);
      }
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "tiercache: refreshing '" + name + "' in " + location + " failed", e);
    } finally {
      refreshing.remove(key, token);
    }
  }

  /** A refresh that loaded null removes the key, as Caffeine's does, unless a write came first. */
  private void removeIfOwned(K key, String name, Object token) {
    Outcome<V> out = new Outcome<>();
    writeFront(key, (k, old) -> {
      if (!enterOwnedStore()) {
        return old;
      }
      try {
        if (refreshing.get(k) != token) {
          return old;
        }
        out.write = store.remove(name); // after a replace, it would remove the replacement
      } finally {
        wholeWrites.readLock().unlock();
      }
      out.replaced = old;
      return null;
    });
    if (out.write != null) {
      finish(key, name, out.write, null);
      deliver(removal(key, out.replaced, RemovalCause.EXPLICIT));
    }
  }

  // ---------------------------------------------------------------- stale if error

  /**
   * Marks {@code key} as failing: returns true when this starts an outage (the caller warns once),
   * and sets when the loader may be tried again.
   */
  private <T> boolean startOutage(ConcurrentMap<T, Outage> map, T key) {
    long now = clock.millis();
    boolean[] started = {false};
    map.compute(key, (k, o) -> {
      started[0] = o == null;
      return (o == null ? Outage.FIRST : o).next(now);
    });
    return started[0];
  }

  /** The stale value to serve instead of calling the loader again, while the last failure's back-off lasts. */
  private @Nullable Tagged<V> staleDuringBackoff(K key, String name) {
    Outage outage = outages.isEmpty() ? null : outages.get(key);
    if (outage == null || clock.millis() >= outage.retryAtMillis) {
      return null;
    }
    Tagged<V> stale = staleValue(key, name);
    if (stale != null) {
      stats.recordStale();
    }
    return stale;
  }

  /** The value expired within the grace, instead of {@code failure}; or throws it. */
  private Tagged<V> staleOrThrow(K key, String name, RuntimeException failure) {
    Tagged<V> stale = staleGraceMillis == 0 ? null : staleValue(key, name);
    if (stale == null) {
      throw failure;
    }
    if (startOutage(outages, key)) {
      LOG.log(Level.WARNING, "tiercache: loading '" + name + "' for " + location + " failed (" + failure
          + "); serving its value that expired at " + Instant.ofEpochMilli(stale.expiresAtMillis)
          + " (stale-if-error, grace " + Duration.ofMillis(staleGraceMillis) + ") until a load succeeds");
    }
    stats.recordStale();
    return stale;
  }

  /** The key's value expired less than the grace ago: the front tier's if it holds it, else the store's. */
  private @Nullable Tagged<V> staleValue(K key, String name) {
    Tagged<V> held = front.getIfPresent(key);
    if (held != null && (current(held) || heldForStale(held))) {
      return held;
    }
    PersistentStore.Value stored = store.getStale(name);
    if (stored == null) {
      return null;
    }
    V value = decode(name, stored.bytes);
    return value == null ? null
        : new Tagged<>(value, -1, stored.expiresAtMillis, stored.expiresAtMillis - ttlMillis, stored.bytes.length);
  }

  /**
   * For {@link AssetCache#getAll(java.util.function.Supplier)}: every value expired within the grace,
   * or null when there is none. {@code failure}: the whole-content fetch just failed (null: it is in
   * its back-off and was not called).
   */
  @Nullable List<V> staleContent(@Nullable RuntimeException failure) {
    if (staleGraceMillis == 0) {
      return null;
    }
    List<V> values = new ArrayList<>();
    long[] expired = {Long.MAX_VALUE};
    store.forEachStale((name, stored) -> {
      V value = decode(name, stored.bytes);
      if (value != null) {
        values.add(value);
        expired[0] = Math.min(expired[0], stored.expiresAtMillis);
      }
    });
    if (values.isEmpty()) {
      return null;
    }
    if (failure != null && startOutage(contentOutages, "")) {
      LOG.log(Level.WARNING, "tiercache: fetching every asset for " + location + " failed (" + failure
          + "); serving the " + values.size() + " that expired at " + Instant.ofEpochMilli(expired[0])
          + " (stale-if-error, grace " + Duration.ofMillis(staleGraceMillis) + ") until a fetch succeeds");
    }
    stats.recordStale();
    return values;
  }

  /** True while the whole-content fetch is in its back-off after a failure: serve {@link #staleContent}. */
  boolean contentInBackoff() {
    Outage outage = contentOutages.get("");
    return outage != null && clock.millis() < outage.retryAtMillis;
  }

  /** The whole-content fetch succeeded: the next failure is a new outage. */
  void contentLoaded() {
    contentOutages.remove("");
  }

  // ---------------------------------------------------------------- bulk loads

  @Override
  public Map<K, V> getAll(Iterable<? extends K> keysToGet,
      Function<? super Set<? extends K>, ? extends Map<? extends K, ? extends V>> bulkLoader) {
    return join(loadAll(keysToGet, bulkLoader, null));
  }

  @Override
  public CompletableFuture<Map<K, V>> getAllAsync(Iterable<? extends K> keysToGet,
      Function<? super Set<? extends K>, ? extends Map<? extends K, ? extends V>> bulkLoader) {
    return loadAll(keysToGet, bulkLoader, executor);
  }

  private CompletableFuture<Map<K, V>> loadAll(Iterable<? extends K> keysToGet,
      Function<? super Set<? extends K>, ? extends Map<? extends K, ? extends V>> bulkLoader,
      @Nullable Executor runner) {
    Objects.requireNonNull(bulkLoader, "bulkLoader");
    // Every key is read and checked before any is registered: a key left registered by a call that
    // failed would make every later load of it wait forever.
    Set<K> requested = new LinkedHashSet<>();
    for (K key : keysToGet) {
      requested.add(Objects.requireNonNull(key, "key"));
    }
    Function<K, @Nullable V> refresher = refreshAfterMillis == 0 ? null : k -> bulkLoader.apply(Set.of(k)).get(k);
    if (runner == null && FrontMaintenance.computing()) {
      Map<K, V> found = new LinkedHashMap<>();
      List<K> notInFront = new ArrayList<>();
      for (K key : requested) {
        Tagged<V> tagged = frontHit(key, refresher);
        if (tagged != null) {
          found.put(key, tagged.value);
        } else {
          notInFront.add(key);
        }
      }
      Map<K, V> stored = readThroughInCompute(notInFront);
      Map<K, V> inOrder = new LinkedHashMap<>(requested.size() * 4 / 3 + 1);
      for (K key : requested) {
        inOrder.put(key, found.containsKey(key) ? found.get(key) : stored.get(key));
      }
      return CompletableFuture.completedFuture(Collections.unmodifiableMap(inOrder));
    }
    Map<K, CompletableFuture<@Nullable Tagged<V>>> results = new LinkedHashMap<>();
    Map<K, Load<V>> mine = new LinkedHashMap<>();
    try {
      for (K key : requested) {
        Tagged<V> tagged = frontHit(key, refresher);
        if (tagged != null) {
          results.put(key, CompletableFuture.completedFuture(tagged));
          continue;
        }
        Load<V> future = new Load<>();
        Load<V> theirs = loading.putIfAbsent(key, future);
        if (theirs != null) {
          if (runner == null) {
            requireNotRecursive(key, theirs);
          }
          stats.recordMiss();
          results.put(key, theirs);
        } else {
          mine.put(key, future);
          results.put(key, future);
        }
      }
    } catch (RuntimeException | Error e) { // a read failed (the store's poll, a refresh's executor)
      mine.forEach((k, f) -> fail(k, f, e));
      throw e;
    }
    if (!mine.isEmpty()) {
      Runnable task = () -> {
        mine.values().forEach(f -> f.runner = Thread.currentThread());
        try {
          loadAllOnce(mine, bulkLoader);
        } catch (Throwable t) {
          mine.forEach((k, f) -> fail(k, f, t)); // no-op for those already settled
        }
      };
      run(task, runner, e -> mine.forEach((k, f) -> fail(k, f, e)));
    }
    return CompletableFuture.allOf(results.values().toArray(new CompletableFuture<?>[0])).thenApply(done -> {
      Map<K, V> map = new LinkedHashMap<>(results.size() * 4 / 3 + 1);
      results.forEach((k, f) -> {
        Tagged<V> tagged = f.join();
        if (tagged != null) {
          map.put(k, tagged.value);
        }
      });
      return Collections.unmodifiableMap(map);
    });
  }

  /** Settles every key of {@code mine}: from a tier, else from one call of the bulk loader. */
  private void loadAllOnce(Map<K, Load<V>> mine,
      Function<? super Set<? extends K>, ? extends Map<? extends K, ? extends V>> bulkLoader) {
    Set<K> missing = new LinkedHashSet<>();
    mine.forEach((key, future) -> {
      String name = keys.format(key);
      Tagged<V> present = lookup(key, name, true);
      if (present == null) {
        present = staleDuringBackoff(key, name);
      }
      if (present != null) {
        settle(key, future, present);
      } else {
        missing.add(key);
      }
    });
    if (missing.isEmpty()) {
      return;
    }
    Map<? extends K, ? extends V> loaded;
    long epoch = store.epoch(); // keys not asked for are stored only if no clear or replace came meanwhile
    long start = System.nanoTime();
    try {
      loaded = Objects.requireNonNull(bulkLoader.apply(Collections.unmodifiableSet(missing)),
          "the bulk loader returned null");
    } catch (RuntimeException e) {
      stats.recordLoad(false, System.nanoTime() - start);
      for (K key : missing) {
        CompletableFuture<@Nullable Tagged<V>> future = mine.get(key);
        try {
          settle(key, future, staleOrThrow(key, keys.format(key), e));
        } catch (RuntimeException unserved) {
          fail(key, future, unserved);
        }
      }
      return;
    }
    stats.recordLoad(true, System.nanoTime() - start);
    Map<K, Tagged<V>> stored = storeBatch(loaded, mine, epoch);
    for (K key : missing) {
      outages.remove(key);
      settle(key, mine.get(key), stored.get(key));
    }
  }

  /**
   * Stores a bulk load's values as one batch: every change is queued, then awaited in order, so the
   * JSON store writes them with one system call (and one {@code fsync} under FSYNC). A key whose
   * registration a write removed meanwhile, or that another caller is loading, is not stored; nor is
   * a key not asked for once the store's content changed from {@code epoch}.
   */
  private Map<K, Tagged<V>> storeBatch(Map<? extends K, ? extends V> loaded,
      Map<K, Load<V>> mine, long epoch) {
    Map<K, Tagged<V>> result = new LinkedHashMap<>();
    List<K> written = new ArrayList<>();
    List<Tagged<V>> writtenValues = new ArrayList<>();
    List<PersistentStore.Write> writes = new ArrayList<>();
    List<Removal<K, V>> removals = new ArrayList<>();
    for (Map.Entry<? extends K, ? extends V> e : loaded.entrySet()) {
      K key = Objects.requireNonNull(e.getKey(), "the bulk loader returned a null key");
      V value = e.getValue();
      if (value == null) {
        continue;
      }
      CompletableFuture<@Nullable Tagged<V>> owner = mine.get(key);
      String name = keys.format(key);
      byte[] encoded = codec.encode(value);
      Outcome<V> out = new Outcome<>();
      Tagged<V> tagged = writeFront(key, (k, old) -> {
        if (!enterOwnedStore()) {
          return old;
        }
        try {
          if (owner == null ? loading.containsKey(k) || store.epoch() != epoch : loading.get(k) != owner) {
            return old;
          }
          refreshing.remove(k);
          out.write = store.put(name, encoded);
        } finally {
          wholeWrites.readLock().unlock();
        }
        out.replaced = old;
        return tagged(value, out.write, encoded.length);
      });
      if (out.write == null) {
        result.put(key, unstored(value));
        continue;
      }
      result.put(key, tagged);
      written.add(key);
      writtenValues.add(tagged);
      writes.add(out.write);
      Removal<K, V> removal = removal(key, out.replaced, RemovalCause.REPLACED);
      if (removal != null) {
        removals.add(removal);
      }
    }
    stats.recordPuts(writes.size());
    try {
      for (PersistentStore.Write write : writes) {
        store.await(write); // the first writes every queued line; the rest find theirs written
      }
    } catch (RuntimeException | Error e) {
      for (int i = 0; i < written.size(); i++) {
        front.asMap().remove(written.get(i), writtenValues.get(i));
      }
      throw e;
    }
    for (K key : written) {
      store.listeners().publish(listener, keys.format(key));
    }
    removals.forEach(this::deliver);
    return result;
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

  /** The future's value; its failure rethrown as it was thrown (unwrapped). */
  private static <T> T join(CompletableFuture<T> future) {
    try {
      return future.join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof RuntimeException) {
        throw (RuntimeException) cause;
      }
      if (cause instanceof Error) {
        throw (Error) cause;
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------- writes

  @Override
  public void put(K key, V value) {
    Objects.requireNonNull(value, "value");
    String name = keys.format(Objects.requireNonNull(key, "key"));
    byte[] encoded = codec.encode(value);
    Outcome<V> out = new Outcome<>();
    // Writes around a front tier that does not hold the key: the value enters memory when it is read
    // (see Doorkeeper), so that a stream of new keys does not evict (on every write) the entries being read.
    Tagged<V> tagged = writeFront(key, (k, old) -> {
      supersedeLoads(k);
      out.replaced = previous(old, name);
      out.write = store.put(name, encoded);
      return old == null ? null : tagged(value, out.write, encoded.length);
    });
    Removal<K, V> removal = removal(key, out.replaced, RemovalCause.REPLACED);
    reportedUndecodable.remove(name);
    stats.recordPuts(1);
    finish(key, name, out.write, tagged);
    deliver(removal);
  }

  /** A write to {@code key} wins over loads and refreshes in flight: they will not store their result. */
  private void supersedeLoads(K key) {
    loading.remove(key);
    refreshing.remove(key);
  }

  /**
   * The same for a clear or a replace, over every key; before the store's change, so no load lands
   * after it. The caller holds {@link #wholeWrites}' write lock around both.
   */
  private void supersedeAllLoads() {
    loading.clear();
    refreshing.clear();
  }

  /** The value a write replaces, for the removal listener: the front tier's, else the store's. */
  private @Nullable Tagged<V> previous(@Nullable Tagged<V> old, String name) {
    if (removalListener == null) {
      return null;
    }
    return old != null ? old : fromStore(name);
  }

  @Override
  public void putAll(Map<? extends K, ? extends V> map) {
    map.forEach(this::put);
  }

  @Override
  public void invalidate(K key) {
    String name = keys.format(Objects.requireNonNull(key, "key"));
    Outcome<V> out = new Outcome<>();
    writeFront(key, (k, old) -> {
      supersedeLoads(k);
      out.replaced = previous(old, name);
      out.write = store.remove(name);
      return null;
    });
    Removal<K, V> removal = removal(key, out.replaced, RemovalCause.EXPLICIT);
    finish(key, name, out.write, null);
    deliver(removal);
  }

  @Override
  public void invalidateAll() {
    List<Removal<K, V>> removals = frontRemovals(k -> RemovalCause.EXPLICIT);
    PersistentStore.Write write;
    wholeWrites.writeLock().lock();
    try {
      supersedeAllLoads();
      write = store.clear();
    } finally {
      wholeWrites.writeLock().unlock();
    }
    front.invalidateAll();
    store.await(write);
    store.listeners().publish(listener, null);
    removals.forEach(this::deliver);
  }

  @Override
  public void replaceAll(Map<? extends K, ? extends V> map) {
    Map<String, byte[]> encoded = new LinkedHashMap<>(map.size() * 4 / 3 + 1);
    map.forEach((k, v) -> encoded.put(keys.format(Objects.requireNonNull(k, "key")),
        codec.encode(Objects.requireNonNull(v, "value"))));
    List<Removal<K, V>> removals = frontRemovals(k -> map.containsKey(k) ? RemovalCause.REPLACED : RemovalCause.EXPLICIT);
    PersistentStore.Write write;
    wholeWrites.writeLock().lock();
    try {
      supersedeAllLoads();
      write = store.replaceAll(encoded);
    } finally {
      wholeWrites.writeLock().unlock();
    }
    // No warm-up: each key's first read comes from the store, as after a restart. Values put here
    // could not tell whether a write to their key landed since the store's replace.
    front.invalidateAll();
    reportedUndecodable.clear();
    stats.recordPuts(map.size());
    store.await(write);
    store.listeners().publish(listener, null);
    removals.forEach(this::deliver);
  }

  /**
   * Read-modify-write of one key through both tiers, atomic in this JVM. Returns the previous
   * value (index 0) and the new one (index 1).
   */
  private Object[] update(K key, BiFunction<? super K, ? super V, ? extends V> function) {
    String name = keys.format(Objects.requireNonNull(key, "key"));
    store.poll();
    Object[] result = new Object[2];
    Outcome<V> out = new Outcome<>();
    Tagged<V> updated = writeFront(key, (k, old) -> {
      Tagged<V> present = old != null && current(old) ? old : fromStore(name);
      V previous = present == null ? null : present.value;
      V next = function.apply(k, previous);
      result[0] = previous;
      result[1] = next;
      if (next == null) {
        if (previous != null) {
          supersedeLoads(k);
          out.write = store.remove(name);
          out.replaced = present;
        }
        return null;
      }
      if (next == previous) {
        return present;
      }
      supersedeLoads(k);
      byte[] encoded = codec.encode(next);
      out.write = store.put(name, encoded);
      out.replaced = present;
      return tagged(next, out.write, encoded.length);
    });
    if (out.write != null) {
      Removal<K, V> removal = removal(key, out.replaced, result[1] == null ? RemovalCause.EXPLICIT : RemovalCause.REPLACED);
      if (result[1] != null) {
        stats.recordPuts(1);
      }
      finish(key, name, out.write, updated);
      deliver(removal);
    }
    return result;
  }

  /**
   * Makes a write durable and tells the other front tiers on the store. A write that fails (a full
   * disk, an unreachable server) is dropped from the front tier before its exception propagates:
   * this JVM must not serve what the store could not keep.
   */
  private void finish(K key, String name, PersistentStore.Write write, @Nullable Tagged<V> written) {
    try {
      store.await(write);
    } catch (RuntimeException | Error e) {
      if (written != null) {
        front.asMap().remove(key, written);
      }
      throw e;
    }
    store.listeners().publish(listener, name);
  }

  // ---------------------------------------------------------------- removal events

  /** The event for {@code old} leaving the cache for {@code cause}, or null when there is none to tell. */
  private @Nullable Removal<K, V> removal(K key, @Nullable Tagged<V> old, RemovalCause cause) {
    if (removalListener == null || old == null) {
      return null;
    }
    if (clock.millis() >= old.expiresAtMillis) {
      return new Removal<>(key, old.value, RemovalCause.EXPIRED);
    }
    if (old.epoch != store.epoch() || cause == RemovalCause.EXPIRED) {
      return null; // cleared or replaced as a whole: told by whoever did it
    }
    return new Removal<>(key, old.value, cause);
  }

  /** The events for every value the front tier holds, before a clear or replace. */
  private List<Removal<K, V>> frontRemovals(Function<K, RemovalCause> cause) {
    if (removalListener == null) {
      return List.of();
    }
    List<Removal<K, V>> removals = new ArrayList<>();
    front.asMap().forEach((k, tagged) -> {
      Removal<K, V> removal = removal(k, tagged, cause.apply(k));
      if (removal != null) {
        removals.add(removal);
      }
    });
    return removals;
  }

  private void deliver(@Nullable Removal<K, V> removal) {
    RemovalListener<? super K, ? super V> target = removalListener;
    if (removal == null || target == null) {
      return;
    }
    Runnable notify = () -> {
      try {
        target.onRemoval(removal.key(), removal.value(), removal.cause());
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "tiercache: the removal listener of " + location + " threw", e);
      }
    };
    try {
      executor.execute(notify);
    } catch (RejectedExecutionException e) {
      notify.run();
    } catch (RuntimeException e) {
      // The change is already stored: failing the caller's write now would report it as not done.
      LOG.log(Level.WARNING, "tiercache: the executor of " + location
          + " cannot run the removal listener; running it on this thread", e);
      notify.run();
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
    return stats.snapshot(store.counters());
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

  /** Whether the front tier holds a value for {@code key}, current or not. For tests. */
  boolean frontHolds(K key) {
    return front.asMap().containsKey(key);
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
