package io.tiercache;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/**
 * What a persistent store is opened with: made by {@link TieredCacheBuilder#build()} from its
 * settings, immutable, and copied by the store into its own final fields. Two opens of one store
 * location in a JVM must agree on all of it.
 *
 * <p>{@code staleGrace}: how long after its expiry a value is still kept, to be served by
 * {@link PersistentStore#getStale} when a loader fails (stale-if-error); zero keeps nothing.
 *
 * <p>Both are at most {@link #LONGEST}: a longer one is taken as it.
 */
record StoreConfig(
    StoreSpec spec,
    FileNames files,
    Durability durability,
    Duration expireAfter,
    Duration staleGrace,
    Clock clock,
    Duration lockTimeout,
    Duration refreshInterval,
    Duration asyncFlushDelay,
    long compactionMinBytes,
    FileOps fileOps) {

  /**
   * The longest expiry, grace and refresh age: Caffeine's, {@code Long.MAX_VALUE} nanoseconds (about
   * 292 years), so that "forever" ({@code Duration.ofMillis(Long.MAX_VALUE)}, {@code
   * ChronoUnit.FOREVER.getDuration()}) means what it does in Caffeine. Every deadline then fits a long
   * of milliseconds with room to spare, and the JSON snapshot's {@code expiry} stays a date the Python
   * SDK can read (its {@code datetime} ends with the year 9999).
   */
  static final Duration LONGEST = Duration.ofNanos(Long.MAX_VALUE);

  StoreConfig {
    expireAfter = saturated(expireAfter);
    staleGrace = saturated(staleGrace);
  }

  /** {@code d}, or {@link #LONGEST} (negated when negative) if it is longer. */
  static Duration saturated(Duration d) {
    if (d.compareTo(LONGEST) > 0) {
      return LONGEST;
    }
    return d.compareTo(LONGEST.negated()) < 0 ? LONGEST.negated() : d;
  }

  Path directory() {
    return files.directory();
  }

  String name() {
    return files.name();
  }

  StoreProvider provider() {
    return StoreProvider.of(spec);
  }

  /**
   * The canonical path of {@code file} in the directory, which is created (with the directory
   * permissions) when missing: the registry key of file stores.
   */
  Path canonicalFile(Path file) {
    fileOps.createDirectories(directory());
    try {
      return file.getParent().toRealPath().resolve(file.getFileName());
    } catch (IOException e) {
      throw new CacheException("cannot resolve the cache directory", file.getParent(), e);
    }
  }
}
