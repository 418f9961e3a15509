package io.tiercache;

import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import org.jspecify.annotations.Nullable;

/**
 * Configures and opens a {@link TieredCache}. Every setting has a default; only the name is
 * usually worth choosing.
 *
 * <pre>{@code
 * TieredCache<String, Pipeline> pipelines = TieredCache.builder(String.class, Pipeline.class)
 *     .directory(Path.of("/var/cache/myapp"))    // default: ./.cache
 *     .name("pipeline")                          // files pipeline.json, .journal, .lock
 *     .expireAfter(Duration.ofHours(1))          // default: CACHE_EXPIRY_TIME, else 24 h
 *     .maximumSize(1_000)                        // front tier only; the files keep everything
 *     .durability(Durability.WRITE)
 *     .build();
 * }</pre>
 *
 * {@link #build()} copies the settings: a builder can be changed and built again without
 * touching the caches it opened. Opening a file that is already open in this JVM is cheap and
 * shares the open cache: the settings must then agree, or {@code build()} throws
 * {@link IllegalStateException}.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class TieredCacheBuilder<K, V> {
  private final KeyFormat<K> keys;
  private final Class<V> valueType;
  private @Nullable Codec<V> codec;
  private StoreSpec store = StoreSpec.jsonFiles();
  private Path directory = Path.of(".cache");
  private String name;
  private Durability durability = Durability.WRITE;
  private @Nullable Duration expireAfter;
  private Clock clock = Clock.systemUTC();
  private Duration lockTimeout = Duration.ofSeconds(30);
  private Duration refreshInterval = Duration.ofSeconds(1);
  private Duration asyncFlushDelay = Duration.ofMillis(50);
  private long compactionMinBytes = 1 << 20;
  private FileOps fileOps = FileOps.ownerOnly();
  private long maximumSize = -1;
  private long maximumWeight = -1;
  private @Nullable Weigher<? super K, ? super V> weigher;
  private boolean recordStats;
  private Duration staleGrace = Duration.ZERO;
  private Duration refreshAfterWrite = Duration.ZERO;
  private Executor executor = ForkJoinPool.commonPool();
  private @Nullable RemovalListener<? super K, ? super V> removalListener;

  TieredCacheBuilder(Class<K> keyType, Class<V> valueType) {
    this.keys = KeyFormat.of(Objects.requireNonNull(keyType, "keyType"));
    this.valueType = Objects.requireNonNull(valueType, "valueType");
    this.name = valueType.getSimpleName().toLowerCase(java.util.Locale.ROOT);
  }

  /**
   * Where the persistent tier lives; default {@link StoreSpec#jsonFiles()}. See {@link StoreSpec}
   * for the Chronicle Map and Redis stores.
   */
  public TieredCacheBuilder<K, V> store(StoreSpec store) {
    this.store = Objects.requireNonNull(store, "store");
    return this;
  }

  /** The directory of the cache files; created (owner-only) if missing. Default {@code ./.cache}. */
  public TieredCacheBuilder<K, V> directory(Path directory) {
    this.directory = Objects.requireNonNull(directory, "directory");
    return this;
  }

  /**
   * The base name of the cache files (and of the Redis store's keys). Default: the value type's
   * simple name, lower case.
   *
   * @throws IllegalArgumentException if it is empty, contains a path separator or {@code ..}, or is
   *     too long for its files' names (over 191 bytes in UTF-8)
   */
  public TieredCacheBuilder<K, V> name(String name) {
    this.name = FileNames.validName(name);
    return this;
  }

  /**
   * How long content lives; overrides {@code CACHE_EXPIRY_TIME}. Zero or negative: born expired. At
   * most Caffeine's longest period, {@code Long.MAX_VALUE} nanoseconds (about 292 years): a longer one,
   * such as {@code Duration.ofMillis(Long.MAX_VALUE)} or {@code ChronoUnit.FOREVER.getDuration()}, is
   * taken as that.
   */
  public TieredCacheBuilder<K, V> expireAfter(Duration ttl) {
    this.expireAfter = Objects.requireNonNull(ttl, "ttl");
    return this;
  }

  /**
   * Bounds the front tier (decoded values in memory) by entries; the persistent tier is not bounded.
   * Entries the front tier evicts are decoded again on their next read. Over the file stores, once the
   * front tier is half full, a value read from the persistent tier enters it on its second read within
   * about {@code maximumSize} reads of other keys, not on its first: a key read once costs no insert and
   * no eviction (over Redis, where a read is a round trip, on its first). A loaded value enters at once.
   *
   * @throws IllegalStateException if {@link #maximumWeight} was set
   */
  public TieredCacheBuilder<K, V> maximumSize(long maximumSize) {
    if (maximumSize < 0) {
      throw new IllegalArgumentException("maximumSize must not be negative: " + maximumSize);
    }
    if (maximumWeight >= 0) {
      throw new IllegalStateException("maximumWeight was already set: choose one bound");
    }
    this.maximumSize = maximumSize;
    return this;
  }

  /**
   * Bounds the front tier by the sum of its entries' weights: by default the length of each value's
   * encoded JSON, so that {@code maximumWeight(64 << 20)} keeps about 64 MiB of JSON decoded in
   * memory; see {@link #weigher}. The persistent tier is not bounded. Values read from the persistent
   * tier enter the front tier as under {@link #maximumSize}, once it holds half its weight, the window
   * being about as many reads as the front tier holds entries at the weights seen by then.
   *
   * @throws IllegalStateException if {@link #maximumSize} was set
   */
  public TieredCacheBuilder<K, V> maximumWeight(long maximumWeight) {
    if (maximumWeight < 0) {
      throw new IllegalArgumentException("maximumWeight must not be negative: " + maximumWeight);
    }
    if (maximumSize >= 0) {
      throw new IllegalStateException("maximumSize was already set: choose one bound");
    }
    this.maximumWeight = maximumWeight;
    return this;
  }

  /** How {@link #maximumWeight} weighs an entry, instead of by its encoded length in bytes. */
  public TieredCacheBuilder<K, V> weigher(Weigher<? super K, ? super V> weigher) {
    this.weigher = Objects.requireNonNull(weigher, "weigher");
    return this;
  }

  /**
   * Records statistics for {@link TieredCache#stats()}: hits by tier, misses, loads, stale values
   * served, evictions and puts.
   */
  public TieredCacheBuilder<K, V> recordStats() {
    this.recordStats = true;
    return this;
  }

  /**
   * Stale if error: when a loader ({@code get(key, loader)}, {@code getAll}, the async forms, or
   * {@link AssetCache#getAll(java.util.function.Supplier)}'s {@code fetchAll}) throws and the key's
   * value expired less than {@code grace} ago, that value is returned instead of the exception. One
   * warning is logged per key per outage, {@code stats().staleCount()} counts each value served, and
   * the loader is tried again on a call after a back-off (1 s, doubling to 1 min). Expired values are
   * kept in the persistent tier for {@code grace}, so this holds after a restart too. Outside the
   * grace the exception propagates. Default zero: never. At most about 292 years, as {@link #expireAfter}.
   */
  public TieredCacheBuilder<K, V> staleIfError(Duration grace) {
    Objects.requireNonNull(grace, "grace");
    if (grace.isNegative()) {
      throw new IllegalArgumentException("staleIfError must not be negative: " + grace);
    }
    this.staleGrace = grace;
    return this;
  }

  /**
   * Refresh ahead: a {@code get(key, loader)} (or {@code getAsync}, {@code getAll}) that finds a value
   * written longer than {@code age} ago returns it at once and reloads it on the {@link #executor},
   * once per key in this JVM (and across JVMs on stores that share loads). A refresh that fails keeps
   * the current value until it expires; one that returns null removes it. The age of a value written
   * in another process or before a restart is taken from its expiry: exact on per-entry stores, a lower
   * bound (the start of the content's period) on the JSON store, so such a value may be refreshed
   * early, once. Default: off. At most about 292 years, as {@link #expireAfter}.
   */
  public TieredCacheBuilder<K, V> refreshAfterWrite(Duration age) {
    this.refreshAfterWrite = positive(age, "refreshAfterWrite");
    return this;
  }

  /**
   * Where async loads, refreshes and removal listeners run; default {@link ForkJoinPool#commonPool()}.
   */
  public TieredCacheBuilder<K, V> executor(Executor executor) {
    this.executor = Objects.requireNonNull(executor, "executor");
    return this;
  }

  /** Told of every entry that leaves the cache, and why; see {@link RemovalListener}. */
  public TieredCacheBuilder<K, V> removalListener(RemovalListener<? super K, ? super V> listener) {
    this.removalListener = Objects.requireNonNull(listener, "listener");
    return this;
  }

  /** When writes return; default {@link Durability#WRITE}. */
  public TieredCacheBuilder<K, V> durability(Durability durability) {
    this.durability = Objects.requireNonNull(durability, "durability");
    return this;
  }

  /**
   * How long a writer waits for the file lock before failing; default 30 s. On the Redis store: how
   * long {@code get(key, loader)} waits for another JVM loading the same key before loading itself.
   */
  public TieredCacheBuilder<K, V> lockTimeout(Duration timeout) {
    this.lockTimeout = positive(timeout, "lockTimeout");
    return this;
  }

  /**
   * How often other processes' changes are picked up; default 1 s. {@link Duration#ZERO} turns
   * the background refresh off (writes and {@code sync()} still pick them up).
   */
  public TieredCacheBuilder<K, V> refreshInterval(Duration interval) {
    Objects.requireNonNull(interval, "interval");
    if (interval.isNegative()) {
      throw new IllegalArgumentException("refreshInterval must not be negative: " + interval);
    }
    this.refreshInterval = interval;
    return this;
  }

  /** With {@link Durability#ASYNC}: the longest a write waits in memory; default 50 ms. */
  public TieredCacheBuilder<K, V> asyncFlushDelay(Duration delay) {
    this.asyncFlushDelay = positive(delay, "asyncFlushDelay");
    return this;
  }

  /** Permissions of created files; default owner read/write only ({@code rw-------}). */
  public TieredCacheBuilder<K, V> filePermissions(Set<PosixFilePermission> permissions) {
    this.fileOps = new FileOps(permissions, fileOps.directoryPermissions());
    return this;
  }

  /** Permissions of directories tiercache creates; default owner only ({@code rwx------}). */
  public TieredCacheBuilder<K, V> directoryPermissions(Set<PosixFilePermission> permissions) {
    this.fileOps = new FileOps(fileOps.filePermissions(), permissions);
    return this;
  }

  /** The JSON codec for values; default {@link Codec#json(Class)}. */
  public TieredCacheBuilder<K, V> codec(Codec<V> codec) {
    this.codec = Objects.requireNonNull(codec, "codec");
    return this;
  }

  /** The source of the current time, for expiry; default the system UTC clock. For tests. */
  public TieredCacheBuilder<K, V> clock(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
    return this;
  }

  /** The journal size below which no background compaction runs; default 1 MiB. For tests. */
  TieredCacheBuilder<K, V> compactionMinBytes(long bytes) {
    this.compactionMinBytes = bytes;
    return this;
  }

  private static Duration positive(Duration d, String what) {
    Objects.requireNonNull(d, what);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " must be positive: " + d);
    }
    return d;
  }

  /** The configuration {@link #build()} opens, with every default resolved; the builder is left as it is. */
  CacheConfig<K, V> config() {
    if (weigher != null && maximumWeight < 0) {
      throw new IllegalStateException("a weigher needs maximumWeight");
    }
    StoreConfig storeConfig = new StoreConfig(store, new FileNames(directory, name), durability,
        expireAfter != null ? expireAfter : ExpiryTime.fromEnvironment(), staleGrace, clock, lockTimeout,
        refreshInterval, asyncFlushDelay, compactionMinBytes, fileOps);
    return new CacheConfig<>(keys, valueType, codec != null ? codec : Codec.json(valueType), maximumSize,
        maximumWeight, weigher, recordStats, refreshAfterWrite, executor, removalListener, storeConfig);
  }

  /**
   * Opens the cache, or shares the one already open on the same files in this JVM. The builder is
   * not changed, and later changes to it do not reach the cache.
   *
   * @throws CacheException if the directory cannot be created or written, the lock is not obtained,
   *     or the store's library is missing
   * @throws IllegalStateException if the same files are open in this JVM with other settings
   */
  public TieredCache<K, V> build() {
    return Registry.open(config());
  }
}
