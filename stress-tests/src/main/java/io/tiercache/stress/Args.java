package io.tiercache.stress;

import io.tiercache.StoreSpec;
import io.tiercache.TieredCacheBuilder;
import java.net.URI;
import java.util.LinkedHashMap;
import java.util.Map;

/** {@code --name value} and {@code --flag} arguments, and {@code name=value} report fields. */
final class Args {
  private Args() {}

  static Map<String, String> parse(String[] args) {
    Map<String, String> map = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.startsWith("--")) {
        boolean hasValue = i + 1 < args.length && !args[i + 1].startsWith("--");
        map.put(a.substring(2), hasValue ? args[++i] : "true");
      } else if (a.contains("=")) {
        map.put(a.substring(0, a.indexOf('=')), a.substring(a.indexOf('=') + 1));
      }
    }
    return map;
  }

  /** {@code --store json|chronicle}: the persistent store the harness and its children open. */
  enum Store {
    JSON,
    /** Sized for the long runs: 32k ids (16 x 2,000), or ~75k acknowledged in 200 kill rounds. */
    CHRONICLE;

    static Store of(Map<String, String> args) {
      String name = args.getOrDefault("store", "json");
      try {
        return valueOf(name.toUpperCase(java.util.Locale.ROOT));
      } catch (IllegalArgumentException e) {
        System.err.println("--store " + name + ": expected json or chronicle");
        System.exit(2);
        throw e;
      }
    }

    <K, V> TieredCacheBuilder<K, V> select(TieredCacheBuilder<K, V> builder) {
      return this == CHRONICLE ? builder.store(StoreSpec.chronicleMap(500_000, 200)) : builder;
    }

    String option() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }

  /** {@code --store redis --redis-uri redis://host:port} (the store may be left out): the Redis harness's server. */
  static URI redisUri(Map<String, String> args) {
    String store = args.getOrDefault("store", "redis");
    String uri = args.get("redis-uri");
    if (!store.equals("redis") || uri == null) {
      System.err.println("this harness needs --store redis and --redis-uri redis://host:port");
      System.exit(2);
    }
    return URI.create(uri);
  }
}
