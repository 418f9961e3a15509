package io.tiercache.jcache;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * JCache keys as the store's string keys (the member names of the JSON store's {@code data}).
 * A cache declared with {@code String}, {@code Long}, {@code Integer} or {@code UUID} keys stores
 * them as their text, as tiercache's own caches and the Python SDK do. Other caches (declared
 * {@code Object}, or any other key type) tag what is not a plain string:
 * <ul>
 *   <li>a {@code String} as itself, unless it starts with {@code ~} ({@code ~s:} is put before it);
 *   <li>{@code Long}, {@code Integer}, {@code UUID} as {@code ~l:42}, {@code ~i:7}, {@code ~u:...};
 *   <li>anything else as {@code ~j:} and the base64url of its Java serialization: such keys are
 *       equal when their serialized forms are, which holds for value classes that do not carry
 *       hash-ordered collections.
 * </ul>
 */
final class KeyCodec<K> {
  private static final String TAG = "~";

  private final Class<K> type;
  private final Function<K, String> encode;
  private final Function<String, @Nullable Object> decode;

  private KeyCodec(Class<K> type, Function<K, String> encode, Function<String, @Nullable Object> decode) {
    this.type = type;
    this.encode = encode;
    this.decode = decode;
  }

  @SuppressWarnings("unchecked")
  static <K> KeyCodec<K> of(Class<K> type, Supplier<ClassLoader> loader) {
    if (type == String.class) {
      return new KeyCodec<>(type, k -> (String) k, s -> s);
    }
    if (type == Long.class) {
      return new KeyCodec<>(type, String::valueOf, Long::valueOf);
    }
    if (type == Integer.class) {
      return new KeyCodec<>(type, String::valueOf, Integer::valueOf);
    }
    if (type == UUID.class) {
      return new KeyCodec<>(type, String::valueOf, UUID::fromString);
    }
    return new KeyCodec<>(type, KeyCodec::tagged, s -> untagged(s, loader.get()));
  }

  private static String tagged(Object key) {
    if (key instanceof String s) {
      return s.startsWith(TAG) ? TAG + "s:" + s : s;
    }
    if (key instanceof Long || key instanceof Integer || key instanceof UUID) {
      return TAG + (key instanceof Long ? "l:" : key instanceof Integer ? "i:" : "u:") + key;
    }
    return TAG + "j:" + Base64.getUrlEncoder().withoutPadding().encodeToString(Serialization.serialize(key, "key"));
  }

  private static Object untagged(String name, ClassLoader loader) {
    if (!name.startsWith(TAG)) {
      return name;
    }
    String text = name.substring(TAG.length() + 2);
    return switch (name.substring(TAG.length(), TAG.length() + 2)) {
      case "s:" -> text;
      case "l:" -> Long.valueOf(text);
      case "i:" -> Integer.valueOf(text);
      case "u:" -> UUID.fromString(text);
      case "j:" -> Serialization.deserialize(Base64.getUrlDecoder().decode(text.getBytes(StandardCharsets.US_ASCII)),
          loader, "key");
      default -> throw new IllegalArgumentException("unknown key tag");
    };
  }

  /**
   * The store's name for {@code key}.
   *
   * @throws ClassCastException if the key is not of the cache's declared key type
   * @throws IllegalArgumentException if it cannot be stored by value
   */
  String encode(Object key) {
    return encode.apply(type.cast(key));
  }

  /**
   * A copy of {@code key} for others to keep (listeners): the key itself unless it was serialized,
   * since the other key types are immutable.
   */
  K copy(K key, String name) {
    if (name.startsWith(TAG + "j:")) {
      K copy = decode(name);
      return copy != null ? copy : key;
    }
    return key;
  }

  /** The key a stored name stands for, or null when the name is not one (another program wrote it). */
  @Nullable K decode(String name) {
    try {
      Object key = decode.apply(name);
      return type.isInstance(key) ? type.cast(key) : null;
    } catch (RuntimeException e) {
      return null;
    }
  }
}
