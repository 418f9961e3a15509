package io.tiercache;

import java.net.URI;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

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
 * Opening a file that is already open in this JVM is cheap and shares the open cache: the
 * settings must then agree, or {@code build()} throws {@link IllegalStateException}.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class TieredCacheBuilder<K, V> {
  final KeyFormat<K> keys;
  final Class<V> valueType;
  Codec<V> codec;
  final StoreSettings store = new StoreSettings();
  long maximumSize = -1;
  boolean recordStats;

  TieredCacheBuilder(Class<K> keyType, Class<V> valueType) {
    this.keys = KeyFormat.of(Objects.requireNonNull(keyType, "keyType"));
    this.valueType = Objects.requireNonNull(valueType, "valueType");
    this.store.directory = Path.of(".cache");
    this.store.name = valueType.getSimpleName().toLowerCase(java.util.Locale.ROOT);
  }

  /** The directory of the cache files; created (owner-only) if missing. Default {@code ./.cache}. */
  public TieredCacheBuilder<K, V> directory(Path directory) {
    store.directory = Objects.requireNonNull(directory, "directory");
    return this;
  }

  /**
   * The base name of the cache files. Default: the value type's simple name, lower case.
   *
   * @throws IllegalArgumentException if it is empty, contains a path separator or is {@code .} or {@code ..}
   */
  public TieredCacheBuilder<K, V> name(String name) {
    store.name = validName(name);
    return this;
  }

  static String validName(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/")
        || name.contains("\\") || name.contains("\0") || name.contains("..")) {
      throw new IllegalArgumentException("invalid cache file name '" + name
          + "': it must be a plain file name, without path separators or '..'");
    }
    return name;
  }

  /** How long content lives; overrides {@code CACHE_EXPIRY_TIME}. Zero or negative: born expired. */
  public TieredCacheBuilder<K, V> expireAfter(Duration ttl) {
    store.expireAfter = Objects.requireNonNull(ttl, "ttl");
    return this;
  }

  /** Bounds the front tier (decoded values in memory); the persistent tier is not bounded. */
  public TieredCacheBuilder<K, V> maximumSize(long maximumSize) {
    if (maximumSize < 0) {
      throw new IllegalArgumentException("maximumSize must not be negative: " + maximumSize);
    }
    this.maximumSize = maximumSize;
    return this;
  }

  /** Records front-tier hit and miss counts for {@link TieredCache#stats()}. */
  public TieredCacheBuilder<K, V> recordStats() {
    this.recordStats = true;
    return this;
  }

  /** When writes return; default {@link Durability#WRITE}. */
  public TieredCacheBuilder<K, V> durability(Durability durability) {
    store.durability = Objects.requireNonNull(durability, "durability");
    return this;
  }

  /**
   * How long a writer waits for the file lock before failing; default 30 s. On {@link #redis}: how
   * long {@code get(key, loader)} waits for another JVM loading the same key before loading itself.
   */
  public TieredCacheBuilder<K, V> lockTimeout(Duration timeout) {
    store.lockTimeout = positive(timeout, "lockTimeout");
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
    store.refreshInterval = interval;
    return this;
  }

  /** With {@link Durability#ASYNC}: the longest a write waits in memory; default 50 ms. */
  public TieredCacheBuilder<K, V> asyncFlushDelay(Duration delay) {
    store.asyncFlushDelay = positive(delay, "asyncFlushDelay");
    return this;
  }

  /** Permissions of created files; default owner read/write only ({@code rw-------}). */
  public TieredCacheBuilder<K, V> filePermissions(Set<PosixFilePermission> permissions) {
    store.fileOps = new FileOps(permissions, store.fileOps.directoryPermissions);
    return this;
  }

  /** Permissions of directories tiercache creates; default owner only ({@code rwx------}). */
  public TieredCacheBuilder<K, V> directoryPermissions(Set<PosixFilePermission> permissions) {
    store.fileOps = new FileOps(store.fileOps.filePermissions, permissions);
    return this;
  }

  /**
   * Keeps the persistent tier in Redis instead of files, so that JVMs on many machines share one
   * cache; each keeps its own front tier, which Redis keeps coherent (RESP3 client tracking: a value
   * another JVM changes is dropped here within milliseconds). Values are the JSON of the file store,
   * and Redis itself removes them {@code expireAfter} after their write. {@link #directory} is not
   * used; the cache {@link #name} names the keys ({@code tiercache:{name}:...}).
   *
   * <pre>{@code
   * TieredCache<String, Model> models = TieredCache.builder(String.class, Model.class)
   *     .redis(URI.create("redis://cache.internal:6379/0"))  // or rediss://, redis-sentinel://h1,h2/0#master
   *     .redisTimeout(Duration.ofMillis(500))
   *     .name("model")
   *     .build();
   * }</pre>
   *
   * While Redis is down or paused, reads the front tier can answer still succeed; every other call
   * fails with {@link CacheException} after at most {@link #redisTimeout}, and a failed write is not
   * retried (its key is dropped from the front tier, since Redis may still apply it). Standalone and
   * Sentinel URIs; Redis Cluster is not supported. Needs Redis 6 or newer and
   * {@code io.lettuce:lettuce-core} 6.x on the class path.
   *
   * @param uri the server, in Lettuce's URI syntax; credentials in it never appear in messages
   * @throws CacheException if Lettuce is not on the class path
   */
  public TieredCacheBuilder<K, V> redis(URI uri) {
    Objects.requireNonNull(uri, "uri");
    RedisStoreType.requireLettuce(uri);
    store.redisUri = uri;
    store.type = RedisStoreType.INSTANCE;
    return this;
  }

  /**
   * With {@link #redis}: the longest any call waits for Redis (to connect, read, or confirm a
   * write) before throwing {@link CacheException}; default 2 s. {@code get(key, loader)} may also
   * wait up to {@link #lockTimeout} for another JVM that is loading the same key.
   */
  public TieredCacheBuilder<K, V> redisTimeout(Duration timeout) {
    store.redisTimeout = positive(timeout, "redisTimeout");
    return this;
  }

  /** The JSON codec for values; default {@link Codec#json(Class)}. */
  public TieredCacheBuilder<K, V> codec(Codec<V> codec) {
    this.codec = Objects.requireNonNull(codec, "codec");
    return this;
  }

  /**
   * Keeps the persistent tier in one memory-mapped Chronicle Map file, {@code <name>.cmap}, shared
   * by every process on the host, instead of the JSON snapshot and journal: a put in one process
   * is seen by a get in any other as soon as it returns, with no refresh interval. Each entry
   * expires {@link #expireAfter} after its own write (the JSON store expires its content as a
   * whole, as the Python SDK does). {@link Durability#ASYNC} and {@link Durability#WRITE} both
   * return once the value is in the shared mapping (a killed process loses nothing);
   * {@link Durability#FSYNC} also forces the file to disk.
   *
   * <pre>{@code
   * TieredCache<String, Model> models = TieredCache.builder(String.class, Model.class)
   *     .name("model")
   *     .chronicleMap(1_000_000, 2_048)   // up to a million entries of about 2 KB of JSON
   *     .build();
   * }</pre>
   *
   * The sizes are fixed when the file is created: past them a put throws {@link CacheException}
   * (an existing file keeps its own sizes). Needs {@code net.openhft:chronicle-map} on the class
   * path and, on JDK 17+, the JVM flags listed in the README; without them {@code build()} throws
   * {@link CacheException} naming what is missing. Chronicle's usage analytics are switched off
   * unless the {@code chronicle.analytics.disable} system property says otherwise.
   *
   * @param entries how many entries the file must hold (a replace briefly needs room for old and new)
   * @param averageValueBytes the average size of a value's JSON
   * @throws IllegalArgumentException if either is not positive
   */
  public TieredCacheBuilder<K, V> chronicleMap(long entries, int averageValueBytes) {
    if (entries <= 0 || averageValueBytes <= 0) {
      throw new IllegalArgumentException("chronicleMap needs positive sizes: entries=" + entries
          + ", averageValueBytes=" + averageValueBytes);
    }
    store.type = ChronicleSupport.TYPE;
    store.chronicleEntries = entries;
    store.chronicleAverageValueBytes = averageValueBytes;
    return this;
  }

  /** The source of the current time, for expiry; default the system UTC clock. For tests. */
  public TieredCacheBuilder<K, V> clock(Clock clock) {
    store.clock = Objects.requireNonNull(clock, "clock");
    return this;
  }

  private static Duration positive(Duration d, String what) {
    Objects.requireNonNull(d, what);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(what + " must be positive: " + d);
    }
    return d;
  }

  /**
   * Opens the cache, or shares the one already open on the same files in this JVM.
   *
   * @throws CacheException if the directory cannot be created or written, or the lock is not obtained
   */
  public TieredCache<K, V> build() {
    if (store.expireAfter == null) {
      store.expireAfter = ExpiryTime.fromEnvironment();
    }
    if (codec == null) {
      codec = Codec.json(valueType);
    }
    return Registry.open(this);
  }
}
