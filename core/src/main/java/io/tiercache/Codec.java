package io.tiercache;

import java.lang.reflect.Type;
import org.jspecify.annotations.Nullable;

/**
 * Converts values to and from the JSON bytes that the persistent tier keeps. A value is encoded
 * once, on write; the bytes are what the journal, the snapshot and the other processes see.
 *
 * <p>{@link #json(Type)} is the default: a jsoniter-backed binder for records, plain classes
 * (fields or getters/setters, a no-argument constructor), enums, collections, maps, arrays,
 * {@code Instant}, {@code BigDecimal} and free-form {@code Object}/{@code Map<String, Object>}
 * values. Implementations must be thread-safe.
 *
 * <pre>{@code
 * Codec<Model> codec = Codec.json(Model.class);
 * byte[] json = codec.encode(model);
 * Model copy = codec.decode(json, 0, json.length);
 * }</pre>
 *
 * @param <T> the value type
 */
public interface Codec<T> {

  /**
   * Encodes a value as compact JSON: ASCII only (other characters as {@code \\uXXXX}), no line
   * breaks, {@code transient} fields left out.
   *
   * @throws CodecException if the value cannot be represented
   */
  byte[] encode(@Nullable T value);

  /**
   * Decodes one JSON value from {@code bytes[offset, offset + length)}. Unknown fields are
   * ignored; missing ones keep their defaults. Python's {@code NaN}, {@code Infinity} and
   * {@code -Infinity} tokens are accepted.
   *
   * @throws CodecException if the bytes are not valid JSON or do not fit the type
   */
  @Nullable T decode(byte[] bytes, int offset, int length);

  /** The JSON codec for {@code type}, built once per type and cached. */
  static <T> Codec<T> json(Class<T> type) {
    return JsonCodec.forType(type);
  }

  /** The JSON codec for a generic type such as {@code List<Model>}. */
  static Codec<Object> json(Type type) {
    return JsonCodec.forType(type);
  }
}
