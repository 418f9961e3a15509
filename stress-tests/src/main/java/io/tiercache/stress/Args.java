package io.tiercache.stress;

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

  /**
   * {@code --store json|chronicle|redis}. The JSON store is the one built; the Chronicle Map store (issue 6)
   * is not in this build yet: when it lands, {@code chronicle} selects it through
   * {@code TieredCacheBuilder.chronicleMap(entries, averageValueBytes)} in the harnesses' open methods.
   */
  static void requireStore(Map<String, String> args) {
    String store = args.getOrDefault("store", "json");
    if (!store.equals("json")) {
      System.err.println("--store " + store + ": only the json store is available in this harness"
          + (store.equals("chronicle") ? " (the Chronicle Map store has not landed yet)" : "")
          + (store.equals("redis") ? " (RedisFleet runs JVMs on one Redis)" : ""));
      System.exit(2);
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
