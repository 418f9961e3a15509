package io.tiercache.jcache;

import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import javax.cache.Cache;
import javax.cache.CacheManager;
import javax.cache.configuration.MutableConfiguration;
import javax.cache.expiry.CreatedExpiryPolicy;
import javax.cache.expiry.Duration;
import javax.cache.expiry.EternalExpiryPolicy;

/**
 * Another process on a cache: {@code JCacheChild <dir> <store> <cache> (<expiryMillis> <key> <value>)...}
 * puts each key with a created-expiry of that many milliseconds (0: eternal), then closes.
 */
public final class JCacheChild {
  private JCacheChild() {}

  public static void main(String[] args) {
    CacheManager manager = Fixtures.manager(Path.of(args[0]), args[1], System::currentTimeMillis);
    try {
      for (int i = 3; i + 2 < args.length; i += 3) {
        long millis = Long.parseLong(args[i]);
        MutableConfiguration<String, String> config = new MutableConfiguration<String, String>()
            .setTypes(String.class, String.class)
            .setExpiryPolicyFactory(millis == 0 ? EternalExpiryPolicy.factoryOf()
                : CreatedExpiryPolicy.factoryOf(new Duration(TimeUnit.MILLISECONDS, millis)));
        Cache<String, String> cache = manager.createCache(args[2], config);
        cache.put(args[i + 1], args[i + 2]);
        cache.close();
      }
    } finally {
      manager.close();
    }
    System.out.println("ok");
  }
}
