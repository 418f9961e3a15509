package io.tiercache;

/**
 * The weight of an entry in the front tier, for {@link TieredCacheBuilder#maximumWeight}. Without a
 * weigher, an entry weighs the length of its encoded JSON in bytes, so {@code maximumWeight} bounds
 * the front tier in (approximate) bytes.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
@FunctionalInterface
public interface Weigher<K, V> {
  /** A non-negative weight; computed once when the value enters the front tier. */
  int weigh(K key, V value);
}
