package io.tiercache;

import org.jspecify.annotations.Nullable;

/**
 * Told when an entry leaves the cache, on the builder's {@code executor}, after the change.
 *
 * <pre>{@code
 * TieredCache.builder(String.class, Model.class)
 *     .removalListener((id, model, cause) -> log.info("{} left the cache: {}", id, cause))
 *     .build();
 * }</pre>
 *
 * Events carry the value this cache last held: single-key operations read the previous value from
 * either tier; {@code invalidateAll}, {@code replaceAll} and other writers' changes report the values
 * this JVM held in its front tier (values only in the persistent tier are not decoded to be reported).
 * Exceptions thrown by the listener are logged and otherwise ignored.
 *
 * @param <K> the key type
 * @param <V> the value type
 */
@FunctionalInterface
public interface RemovalListener<K, V> {
  void onRemoval(@Nullable K key, @Nullable V value, RemovalCause cause);
}
