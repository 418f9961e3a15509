package io.tiercache.jcache;

import java.util.Iterator;
import java.util.NoSuchElementException;
import javax.cache.Cache;
import javax.cache.event.CacheEntryEvent;
import javax.cache.event.EventType;
import org.jspecify.annotations.Nullable;

/**
 * One change, as listeners see it. Values are decoded (copied) when a listener first asks for
 * them, once per event. As JCache 1.1 asks, a REMOVED or EXPIRED event's value is the value that
 * went away.
 */
@SuppressWarnings("serial")
final class EntryEvent<K, V> extends CacheEntryEvent<K, V>
    implements Iterable<CacheEntryEvent<? extends K, ? extends V>> {
  private final K key;
  private final transient @Nullable Stored value;
  private final transient @Nullable Stored oldValue;
  private final transient ValueCodec codec;
  private transient @Nullable V decodedValue;
  private transient @Nullable V decodedOldValue;

  EntryEvent(Cache<K, V> source, EventType type, K key, @Nullable Stored value, @Nullable Stored oldValue,
      ValueCodec codec) {
    super(source, type);
    this.key = key;
    this.value = value;
    this.oldValue = oldValue;
    this.codec = codec;
  }

  @Override
  public K getKey() {
    return key;
  }

  @Override
  @SuppressWarnings("unchecked")
  public synchronized @Nullable V getValue() {
    if (decodedValue == null && value != null) {
      decodedValue = (V) codec.decode(value);
    }
    return decodedValue;
  }

  @Override
  @SuppressWarnings("unchecked")
  public synchronized @Nullable V getOldValue() {
    if (decodedOldValue == null && oldValue != null) {
      decodedOldValue = oldValue == value ? getValue() : (V) codec.decode(oldValue);
    }
    return decodedOldValue;
  }

  @Override
  public boolean isOldValueAvailable() {
    return oldValue != null;
  }

  @Override
  public <T> T unwrap(Class<T> clazz) {
    if (clazz.isInstance(this)) {
      return clazz.cast(this);
    }
    throw new IllegalArgumentException("cannot unwrap a cache entry event to " + clazz.getName());
  }

  /** Listeners take an {@code Iterable} of events; each dispatch carries one. */
  @Override
  public Iterator<CacheEntryEvent<? extends K, ? extends V>> iterator() {
    return new Iterator<>() {
      private boolean hasNext = true;

      @Override
      public boolean hasNext() {
        return hasNext;
      }

      @Override
      public CacheEntryEvent<K, V> next() {
        if (!hasNext) {
          throw new NoSuchElementException();
        }
        hasNext = false;
        return EntryEvent.this;
      }
    };
  }
}
