package io.tiercache.jcache;

import java.util.Objects;
import javax.cache.integration.CacheLoader;
import javax.cache.processor.MutableEntry;
import org.jspecify.annotations.Nullable;

/**
 * The entry an {@code EntryProcessor} works on. It records the strongest thing the processor did,
 * which the cache then applies in one step: read it, created or updated it, loaded it (read
 * through, on the first {@code getValue} of an absent entry), or removed it. A create followed by
 * a remove is no change at all.
 */
final class ProcessorEntry<K, V> implements MutableEntry<K, V> {
  enum Action {
    NONE,
    READ,
    CREATED,
    LOADED,
    UPDATED,
    DELETED
  }

  private final K key;
  private final boolean existed;
  private @Nullable V value;
  private @Nullable CacheLoader<K, V> loader;
  private Action action = Action.NONE;

  ProcessorEntry(K key, @Nullable V value, @Nullable CacheLoader<K, V> loader) {
    this.key = key;
    this.existed = value != null;
    this.value = value;
    this.loader = loader;
  }

  Action action() {
    return action;
  }

  @Override
  public K getKey() {
    return key;
  }

  @Override
  public @Nullable V getValue() {
    if (action != Action.NONE) {
      return value;
    }
    if (value != null) {
      action = Action.READ;
    } else if (loader != null) {
      value = loader.load(key);
      loader = null;
      if (value != null) {
        action = Action.LOADED;
      }
    }
    return value;
  }

  @Override
  public boolean exists() {
    return action == Action.NONE ? existed : value != null;
  }

  @Override
  public void remove() {
    action = action == Action.CREATED ? Action.NONE : Action.DELETED;
    value = null;
  }

  @Override
  public void setValue(V newValue) {
    Objects.requireNonNull(newValue, "value");
    if (action != Action.CREATED) {
      action = existed ? Action.UPDATED : Action.CREATED;
    }
    value = newValue;
  }

  @Override
  public <T> T unwrap(Class<T> clazz) {
    if (clazz.isInstance(this)) {
      return clazz.cast(this);
    }
    throw new IllegalArgumentException("cannot unwrap a mutable entry to " + clazz.getName());
  }
}
