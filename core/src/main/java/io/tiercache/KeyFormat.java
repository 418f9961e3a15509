package io.tiercache;

import java.util.UUID;
import java.util.function.Function;

/** Keys are JSON member names in the files: a key type maps to and from a string. */
final class KeyFormat<K> {
  final Class<K> type;
  final Function<K, String> format;
  final Function<String, K> parse;

  private KeyFormat(Class<K> type, Function<K, String> format, Function<String, K> parse) {
    this.type = type;
    this.format = format;
    this.parse = parse;
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static <K> KeyFormat<K> of(Class<K> type) {
    if (type == String.class) {
      return new KeyFormat<>(type, k -> (String) k, s -> (K) s);
    }
    if (type == Integer.class) {
      return new KeyFormat<>(type, String::valueOf, s -> (K) Integer.valueOf(s));
    }
    if (type == Long.class) {
      return new KeyFormat<>(type, String::valueOf, s -> (K) Long.valueOf(s));
    }
    if (type == UUID.class) {
      return new KeyFormat<>(type, String::valueOf, s -> (K) UUID.fromString(s));
    }
    if (type.isEnum()) {
      return new KeyFormat<>(type, k -> ((Enum<?>) k).name(), s -> (K) Enum.valueOf((Class) type, s));
    }
    throw new IllegalArgumentException("unsupported key type " + type.getName()
        + ": use String, Integer, Long, UUID or an enum");
  }

  String format(K key) {
    return format.apply(key);
  }

  /** The key for a stored name, or null when the name does not parse (written by another program). */
  K parse(String name) {
    try {
      return parse.apply(name);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
