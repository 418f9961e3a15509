package io.tiercache;

import io.tiercache.stats.CacheStats;
import java.time.Instant;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * A two-tier cache: a Caffeine front tier of decoded values over a persistent tier of encoded
 * JSON shared with other threads, processes and later runs.
 *
 * <pre>{@code
 * try (TieredCache<String, Model> models = TieredCache.builder(String.class, Model.class)
 *     .directory(Path.of(".cache"))
 *     .name("model")
 *     .maximumSize(10_000)
 *     .build()) {
 *   Model m = models.get("gpt-x", id -> api.fetchModel(id)); // one fetch per id, even under contention
 *   models.put(m.id(), m);                                   // durable once put returns (Durability.WRITE)
 * }
 * }</pre>
 *
 * <h2>Expiry</h2>
 * Each store type keeps the builder's {@code expireAfter} (default: the {@code CACHE_EXPIRY_TIME}
 * environment variable, else 24 hours) in its own way. The JSON file store, the Python SDK's
 * format, expires its content as a whole: a period starts when the cache is created, cleared
 * ({@link #invalidateAll}), replaced ({@link #replaceAll}) or written after the previous period
 * ended. The Chronicle Map and Redis stores expire each entry {@code expireAfter} after its last
 * write. Either way, no method ever returns an expired value, and the front tier never outlives
 * the entry it holds.
 *
 * <h2>Other processes</h2>
 * Writes are never lost to another process's writes. Changes made elsewhere become visible
 * within the builder's {@code refreshInterval} (default 1 s), or at once after {@link #sync}.
 *
 * <p>All methods are thread-safe. Keys and values are never null; methods that return a value
 * return null only where stated.
 *
 * @param <K> the key type: {@code String}, {@code Integer}, {@code Long}, {@code UUID} or an enum
 * @param <V> the value type, which the {@link Codec} maps to and from JSON
 */
public interface TieredCache<K, V> extends AutoCloseable {

  /** A builder for a cache of {@code valueType} keyed by {@code keyType}. */
  static <K, V> TieredCacheBuilder<K, V> builder(Class<K> keyType, Class<V> valueType) {
    return new TieredCacheBuilder<>(keyType, valueType);
  }

  /** The value for {@code key} from either tier, or null when there is none (or it expired). */
  @Nullable V getIfPresent(K key);

  /**
   * The value for {@code key}; when neither tier has it, {@code loader} computes it, it is stored
   * and returned. Concurrent calls in this JVM for the same key (through this method, {@link #getAll},
   * or the async forms) run one loader. A loader that returns null stores nothing and this returns
   * null. A loader's exception propagates as it is, unless {@code staleIfError} serves the expired
   * value instead; with {@code refreshAfterWrite}, an old value is returned and reloaded in the
   * background. A loader that asks for its own key gets {@link IllegalStateException} (a recursive
   * load), as in Caffeine.
   */
  @Nullable V get(K key, Function<? super K, ? extends @Nullable V> loader);

  /**
   * The values for {@code keys}, in their order; {@code bulkLoader} is called once with only the keys
   * neither tier has (and no other caller is loading), and its results are stored in one batch (on
   * the JSON store, one journal write and, under {@link Durability#FSYNC}, one {@code fsync}). Keys the
   * loader leaves out are absent from the result; extra keys it returns are stored too. Keys another
   * caller is loading are waited for, not loaded twice.
   */
  Map<K, V> getAll(Iterable<? extends K> keys,
      Function<? super Set<? extends K>, ? extends Map<? extends K, ? extends V>> bulkLoader);

  /**
   * {@link #get(Object, Function)} without blocking: a front-tier hit completes at once; otherwise
   * the persistent tier is read and the loader runs on the builder's {@code executor}. A key another
   * caller is loading shares that load. The future fails with the loader's exception (unless a stale
   * value is served); it completes with null when the loader returns null.
   */
  CompletableFuture<@Nullable V> getAsync(K key, Function<? super K, ? extends @Nullable V> loader);

  /** {@link #getAll} without blocking, on the builder's {@code executor}. */
  CompletableFuture<Map<K, V>> getAllAsync(Iterable<? extends K> keys,
      Function<? super Set<? extends K>, ? extends Map<? extends K, ? extends V>> bulkLoader);

  /** The present values of {@code keys}; absent keys are left out. */
  Map<K, V> getAllPresent(Iterable<? extends K> keys);

  /**
   * Stores {@code value}; durable on return as the builder's {@link Durability} says. A value the
   * front tier holds for {@code key} is replaced there; otherwise the put writes around memory and
   * the value is decoded when it is read, so that a stream of new keys does not evict the entries
   * being read.
   *
   * @throws CacheException if the value could not be made as durable as asked (a full disk, Redis
   *     unreachable). The value is then not served from this JVM's memory and the write is not
   *     retried: put it again. Whether the persistent tier kept it depends on the store: the JSON store
   *     undoes the change (the key reads as before the put); Redis may still apply a write whose
   *     confirmation timed out.
   */
  void put(K key, V value);

  /** Stores every entry as {@link #put} does, one at a time. */
  void putAll(Map<? extends K, ? extends V> map);

  /** Removes {@code key} from both tiers. */
  void invalidate(K key);

  /** Removes everything and starts a new expiry period. */
  void invalidateAll();

  /** Replaces the whole content with {@code map} atomically and starts a new expiry period. */
  void replaceAll(Map<? extends K, ? extends V> map);

  /**
   * A live view as a thread-safe map: reads and writes go through both tiers; iteration sees
   * the persistent tier's entries, weakly consistent. Atomic operations ({@code putIfAbsent},
   * {@code compute}, ...) are atomic within this JVM. Their functions may read the cache, as
   * ConcurrentHashMap's may; such a read that misses memory reads the persistent tier and keeps
   * nothing in memory. {@link #get(Object, Function) get} and {@link #getAll getAll} there read the
   * same way and never call their loader: a key neither tier holds throws an
   * {@link IllegalStateException} naming it, since a load would hold that key's lock while the
   * function holds its own, which two such functions could deadlock on. Load before the
   * {@code compute}, or use {@link #getAsync getAsync}.
   */
  ConcurrentMap<K, V> asMap();

  /** The number of live entries in the persistent tier (which holds every entry). */
  long estimatedSize();

  /** Statistics by tier (all zero unless the builder called {@code recordStats()}); see {@link CacheStats}. */
  CacheStats stats();

  /**
   * When the current content expires: the end of the period for the JSON file store; for
   * per-entry stores the latest entry's deadline, or one {@code expireAfter} from now when empty.
   */
  Instant expiry();

  /** Applies the changes other processes have made, now. */
  void sync();

  /**
   * Makes every write durable and folds the journal into the snapshot file, which is then what a
   * Python SDK process would read.
   */
  void flush();

  /**
   * Releases this handle. The last handle on a file flushes and closes it; other handles opened
   * on the same file in this JVM keep working.
   */
  @Override
  void close();
}
