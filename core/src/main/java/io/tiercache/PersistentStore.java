package io.tiercache;

import java.util.Map;
import java.util.function.BiConsumer;

/**
 * The persistent tier beneath a {@link TieredCache}'s Caffeine front tier: encoded JSON values by
 * string key, shared with other processes. Implementations: {@link JsonFileStore} (snapshot +
 * journal files in the Python SDK's format) and the Chronicle Map store.
 *
 * <p>Writes are split in two so that the front tier can order them per key inside its own
 * {@code compute} without doing I/O there: {@code put}/{@code remove}/{@code clear}/{@code
 * replaceAll} change the store's view at once and return a {@link Write}; {@link #await} then
 * makes it as durable as the store's {@link Durability} asks.
 *
 * <p>Expiry: each value has a deadline ({@link Value#expiresAtMillis}); {@link #get} never
 * returns a value past it. {@link #epoch} changes whenever the whole content is replaced
 * (clear, replaceAll, expiry, a reload from another process's file); front-tier entries tagged
 * with an older epoch are stale. All methods are thread-safe.
 */
interface PersistentStore extends AutoCloseable {

  /** A stored value: its encoded bytes and when it expires (epoch milliseconds). */
  final class Value {
    final Encoded bytes;
    final long expiresAtMillis;

    Value(Encoded bytes, long expiresAtMillis) {
      this.bytes = bytes;
      this.expiresAtMillis = expiresAtMillis;
    }
  }

  /** The receipt of a write: the epoch it landed in and the value's deadline. */
  final class Write {
    final long seq;
    final long epoch;
    final long expiresAtMillis;

    Write(long seq, long epoch, long expiresAtMillis) {
      this.seq = seq;
      this.epoch = epoch;
      this.expiresAtMillis = expiresAtMillis;
    }
  }

  /** Told of changes the front tiers must drop: other processes' writes, other handles' writes. */
  interface Listener {
    void invalidate(String key);

    void invalidateAll();
  }

  /** The live value for {@code key}, or null when absent or expired. */
  Value get(String key);

  /**
   * The value for {@code key} even when it expired, if it expired less than the configured
   * {@link StoreConfig#staleGrace} ago; null otherwise. Only for stale-if-error: a caller whose loader
   * failed serves it instead of the exception. Stores keep expired values within the grace (in their
   * files too, so it works after a restart). Default: nothing is kept.
   */
  default Value getStale(String key) {
    return null;
  }

  /**
   * Visits every entry {@link #getStale} would return: expired less than the stale grace ago, and not
   * removed or replaced since. For {@code AssetCache.getAll(fetchAll)}, which serves the whole stale
   * content when {@code fetchAll} fails. Default: nothing is kept.
   */
  default void forEachStale(BiConsumer<String, Value> action) {}

  /**
   * The store's own counters for statistics (compactions, inter-process lock waits). A store that
   * keeps them holds one instance and returns it; the default keeps nothing.
   */
  default StoreCounters counters() {
    return new StoreCounters();
  }

  Write put(String key, byte[] encoded);

  Write remove(String key);

  /** Empties the store and starts a new expiry period. */
  Write clear();

  /** Replaces the whole content with {@code entries} and starts a new expiry period, atomically. */
  Write replaceAll(Map<String, byte[]> entries);

  /** Blocks until {@code write} is as durable as this store's durability asks. */
  void await(Write write);

  /** Visits every live entry; a weakly consistent view. */
  void forEach(BiConsumer<String, Value> action);

  long size();

  /** When the current content expires (epoch milliseconds); per-entry stores report the latest. */
  long expiresAtMillis();

  /** The current content's identity; see the class comment. Cheap: a volatile read. */
  long epoch();

  /** Applies other processes' changes now (the store also does this periodically). */
  void refresh();

  /** Makes everything durable and, for file stores, folds the journal into the snapshot. */
  void flush();

  /** The front tiers on this store; {@code publish} tells the others of one front tier's write. */
  Listeners listeners();

  /**
   * Applies other processes' changes that are cheap to see at once (the Chronicle store's changes
   * ring). Called before each front-tier read, including a read inside a front-tier {@code compute}
   * (a compute function that reads the cache): there ({@link FrontMaintenance#computing()}) it must not
   * invalidate front-tier entries, which locks them. Default: nothing; such stores apply changes in
   * {@link #refresh}.
   */
  default void poll() {}

  /**
   * Whether the front tiers may serve what they hold at {@code nowMillis} (the settings' clock, read
   * by the hit): false while a store shared over a network cannot confirm that every change made
   * elsewhere up to its staleness bound ago has reached them (the Redis store's). A volatile read at
   * most: it is asked on every hit.
   */
  default boolean frontConfirmed(long nowMillis) {
    return true;
  }

  /**
   * Whether a read costs about what a front-tier insert does (a memory-mapped store's), so that a
   * size-bounded front tier takes in a key read from here on its second read only ({@link Doorkeeper}).
   * A store across a network answers false: there, a read that is not kept costs another round trip.
   */
  default boolean readsAreLocal() {
    return true;
  }

  /** Held around a loader: see {@link #lease}. */
  interface Lease extends AutoCloseable {
    /** The lease of stores whose processes do not share loads: nothing was waited for. */
    Lease NONE = () -> { };

    @Override
    void close();
  }

  /**
   * Waits until this process may run the loader for {@code key} on behalf of every process on the
   * store, so that a cold fleet loads each key once. The caller re-reads the key after a lease other
   * than {@link Lease#NONE} (the previous holder may have stored it) and closes the lease after its write. Stores whose
   * processes do not share loads return {@link Lease#NONE}: load-once then holds within one JVM.
   */
  default Lease lease(String key) {
    return Lease.NONE;
  }

  /** Flushes and releases files and locks. */
  @Override
  void close();
}
