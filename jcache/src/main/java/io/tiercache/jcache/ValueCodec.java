package io.tiercache.jcache;

import io.tiercache.Codec;
import io.tiercache.CodecException;
import java.io.Serializable;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;
import javax.cache.CacheException;

/**
 * Stores values by value: every write encodes the value, every read decodes a fresh copy (values
 * that are immutable are decoded once and shared). A class is encoded, once decided:
 * <ol>
 *   <li>as JSON through tiercache's codec when JSON represents it exactly: strings, boxed
 *       primitives, {@code BigDecimal}, {@code BigInteger}, {@code Instant}, {@code UUID}, enums,
 *       and records whose components are such types, or {@code List}, {@code Set}, {@code Map}
 *       (with string, integer or UUID keys) and {@code Optional} of them;
 *   <li>otherwise with Java serialization when it is {@code Serializable};
 *   <li>otherwise as JSON through the codec's mapping of plain classes (fields, a no-argument
 *       constructor; {@code transient} fields are not kept), as tiercache's own caches store them.
 * </ol>
 */
final class ValueCodec {
  private enum Form {
    /** JSON, and the decoded value can be shared by readers. */
    JSON_IMMUTABLE,
    /** JSON; each read decodes a copy. */
    JSON,
    SERIALIZED
  }

  private static final Set<Class<?>> SCALARS = Set.of(String.class, Boolean.class, Long.class, Integer.class,
      Short.class, Byte.class, Double.class, Float.class, Character.class, BigDecimal.class, BigInteger.class,
      Instant.class, UUID.class, boolean.class, long.class, int.class, short.class, byte.class, double.class,
      float.class, char.class);
  private static final Set<Class<?>> MAP_KEYS = Set.of(String.class, Long.class, Integer.class, UUID.class);

  private final String cache;
  private final Class<?> declared;
  /** The cache manager's class loader, asked for each time: the codec must not keep it alive. */
  private final Supplier<ClassLoader> loader;
  private final ConcurrentHashMap<Class<?>, Form> forms = new ConcurrentHashMap<>();

  ValueCodec(String cache, Class<?> declared, Supplier<ClassLoader> loader) {
    this.cache = cache;
    this.declared = declared;
    this.loader = loader;
  }

  /**
   * The value's encoding with the given deadline.
   *
   * @throws ClassCastException if it is not of the cache's declared value type
   * @throws IllegalArgumentException if it cannot be stored by value
   */
  Stored encode(Object value, long deadline) {
    Class<?> c = declared.cast(value).getClass();
    Form form = forms.computeIfAbsent(c, ValueCodec::formOf);
    if (form == Form.SERIALIZED) {
      return new Stored(null, null, Serialization.serialize(value, "value"), deadline, null);
    }
    byte[] json;
    try {
      @SuppressWarnings("unchecked")
      Codec<Object> codec = (Codec<Object>) Codec.json(c);
      json = codec.encode(value);
    } catch (CodecException e) {
      throw new IllegalArgumentException("cannot store a value of class " + c.getName() + " by value in the cache "
          + cache + ": " + e.getMessage(), e);
    }
    return new Stored(json, c == declared ? null : c.getName(), null, deadline,
        form == Form.JSON_IMMUTABLE ? value : null);
  }

  /** A copy of the stored value (the shared instance when it is immutable). */
  Object decode(Stored stored) {
    Object value = stored.immutable;
    if (value != null) {
      return value;
    }
    if (stored.serialized != null) {
      return Serialization.deserialize(stored.serialized, loader.get(), "value in the cache " + cache);
    }
    Class<?> c = stored.type == null ? declared : load(stored.type);
    try {
      value = Codec.json(c).decode(stored.json, 0, stored.json.length);
    } catch (CodecException e) {
      throw new CacheException("cannot read a value stored in the cache " + cache + ": " + e.getMessage(), e);
    }
    if (value == null) {
      throw new CacheException("a value stored in the cache " + cache + " is JSON null");
    }
    if (forms.computeIfAbsent(c, ValueCodec::formOf) == Form.JSON_IMMUTABLE) {
      stored.immutable = value;
    }
    return value;
  }

  private Class<?> load(String name) {
    Class<?> c;
    try {
      c = Class.forName(name, false, loader.get());
    } catch (ClassNotFoundException e) {
      throw new CacheException("the class " + name + " of a value stored in the cache " + cache
          + " is not found by the cache manager's class loader", e);
    }
    if (!declared.isAssignableFrom(c)) {
      throw new CacheException("the class " + name + " of a value stored in the cache " + cache + " is not a "
          + declared.getName());
    }
    return c;
  }

  private static Form formOf(Class<?> c) {
    Boolean immutable = exact(c, new HashSet<>());
    if (immutable != null) {
      return immutable ? Form.JSON_IMMUTABLE : Form.JSON;
    }
    return Serializable.class.isAssignableFrom(c) ? Form.SERIALIZED : Form.JSON;
  }

  /**
   * Whether JSON represents values of {@code type} exactly: null when not, else whether the
   * decoded values are also immutable.
   */
  private static Boolean exact(Type type, Set<Type> seen) {
    if (type instanceof Class<?> c) {
      if (SCALARS.contains(c) || c.isEnum()) {
        return true;
      }
      if (!c.isRecord() || !seen.add(c)) {
        return null; // a record that contains itself has no finite JSON
      }
      boolean immutable = true;
      for (RecordComponent component : c.getRecordComponents()) {
        Boolean inner = exact(component.getGenericType(), seen);
        if (inner == null) {
          return null;
        }
        immutable &= inner;
      }
      seen.remove(c);
      return immutable;
    }
    if (type instanceof ParameterizedType p && p.getRawType() instanceof Class<?> raw) {
      Type[] args = p.getActualTypeArguments();
      if (raw == List.class || raw == Set.class) {
        return exact(args[0], seen) == null ? null : false;
      }
      if (raw == Optional.class) {
        return exact(args[0], seen);
      }
      if (raw == Map.class && args[0] instanceof Class<?> k && MAP_KEYS.contains(k)) {
        return exact(args[1], seen) == null ? null : false;
      }
    }
    return null;
  }
}
