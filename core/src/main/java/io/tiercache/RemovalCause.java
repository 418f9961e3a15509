package io.tiercache;

/** Why an entry left a {@link TieredCache}, as told to its {@link RemovalListener}. */
public enum RemovalCause {
  /** Removed by this JVM: {@code invalidate}, {@code invalidateAll}, {@code asMap().remove}, ... */
  EXPLICIT,
  /** Its value was replaced by this JVM: {@code put}, a load or refresh, {@code replaceAll}, ... */
  REPLACED,
  /** Its expiry passed; reported when the cache notices (a read, or the front tier evicting it). */
  EXPIRED,
  /**
   * Evicted from the front tier by {@code maximumSize} or {@code maximumWeight}. The persistent tier
   * still holds it: a later read decodes it again.
   */
  SIZE,
  /**
   * Another writer changed or removed it: another process or JVM on the same store, or a cache of
   * another value type on the same files. Reported for values this cache held in memory.
   */
  REMOTE;

  /** True when the cache removed it on its own accord rather than because of a write. */
  public boolean wasEvicted() {
    return this == EXPIRED || this == SIZE;
  }
}
