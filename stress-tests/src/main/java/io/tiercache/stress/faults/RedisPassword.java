package io.tiercache.stress.faults;

import io.tiercache.CacheException;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import io.tiercache.stress.Record;
import io.tiercache.stress.RedisProcess;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A real redis-server with {@code requirepass}. In one JVM, a cache opened with the right password
 * writes {@code --entries}; then opens of the same cache with a wrong password and with none must
 * fail ({@code wrongPasswordAccepted}) and never return the data ({@code leakedEntries}).
 *
 * <p>Broken variant: the opens go through a registry keyed by the URI without its credentials, as
 * tiercache's was, so the wrong password shares the cache the right one opened.
 */
@Command(name = "redis-password", sortOptions = false,
    description = "A wrong Redis password in the same JVM: refused, and no data returned.")
public final class RedisPassword extends Scenario {
  static final String WRONG_PASSWORD_ACCEPTED = "wrongPasswordAccepted";
  static final String LEAKED_ENTRIES = "leakedEntries";

  @Option(names = "--entries", defaultValue = "20", description = "entries the right password writes (default ${DEFAULT-VALUE})")
  int entries;

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("a registry keyed without credentials",
        WRONG_PASSWORD_ACCEPTED, LEAKED_ENTRIES);
    Path root = base.resolve("sandbox");
    Path redisDir = Files.createDirectories(root.resolve("redis"));
    Outside outside = Outside.create(root, redisDir);
    String secret = "s3cret-" + Long.toHexString(System.nanoTime());
    try (RedisProcess redis = start(redisDir, secret)) {
      Map<String, TieredCache<String, Record>> byHostOnly = new HashMap<>();
      Function<URI, TieredCache<String, Record>> open = uri -> broken
          ? byHostOnly.computeIfAbsent(uri.getHost() + ":" + uri.getPort(), k -> build(uri)) : build(uri);
      TieredCache<String, Record> right = open.apply(redis.uri(secret));
      try {
        for (int i = 0; i < entries; i++) {
          right.put("secret-" + i, Record.of("secret-" + i, "secret", i));
        }
        for (URI wrong : List.of(redis.uri("wrong-" + secret), redis.uri())) {
          String which = wrong.getUserInfo() == null ? "no password" : "a wrong password";
          try {
            TieredCache<String, Record> cache = open.apply(wrong);
            t.violation(WRONG_PASSWORD_ACCEPTED, 1, "an open with " + which + " succeeded");
            long leaked = 0;
            for (int i = 0; i < entries; i++) {
              try {
                leaked += cache.getIfPresent("secret-" + i) != null ? 1 : 0;
              } catch (CacheException refused) {
                // refused at the read: nothing leaked
              }
            }
            t.violation(LEAKED_ENTRIES, leaked, "an open with " + which + " read " + leaked + " entries");
            if (cache != right) {
              cache.close();
            }
          } catch (CacheException refused) {
            t.fact("refused", 1).detail("refused with " + which + ": " + refused.getMessage());
          }
        }
      } finally {
        right.close();
      }
    }
    t.outside(outside.changes());
    return t;
  }

  static RedisProcess start(Path dir, String password) throws Exception {
    try {
      return new RedisProcess(dir, password);
    } catch (IOException e) {
      throw new Unavailable("cannot start redis-server: " + e.getMessage());
    }
  }

  private static TieredCache<String, Record> build(URI uri) {
    return TieredCache.builder(String.class, Record.class).store(StoreSpec.redis(uri, Duration.ofSeconds(2)))
        .name("secrets").expireAfter(Duration.ofHours(1)).build();
  }
}
