package io.tiercache.stress.faults;

import io.tiercache.CacheException;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import io.tiercache.stress.Cli;
import io.tiercache.stress.Record;
import io.tiercache.stress.RedisProcess;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * A reader JVM holds values of a Redis-backed cache in its front tier; the redis-server is killed
 * (SIGKILL) and, after {@code --outage-ms}, started again on the same port without its data. Every
 * read that starts after the new server answers and still returns a value serves something the
 * server no longer has ({@code expiredServed}: stale reads after the restart). One outage per
 * value of {@code --outage-ms}.
 *
 * <p>Broken variant: the reader keeps its own near-cache in front of tiercache, never dropped.
 */
@Command(name = "redis-restart", sortOptions = false,
    description = "Redis restarted empty: nothing read before is served after.")
public final class RedisRestart extends Scenario {
  @Option(names = "--keys", defaultValue = "50", description = "keys the reader holds (default ${DEFAULT-VALUE})")
  int keys;
  @Option(names = "--outage-ms", split = ",", defaultValue = "300", description = "outages, one restart each (default ${DEFAULT-VALUE})")
  List<Integer> outages;
  @Option(names = "--after-ms", defaultValue = "2000", description = "how long the reader reads after a restart (default ${DEFAULT-VALUE})")
  int afterMillis;

  @Override
  Tally run(Path base) throws Exception {
    Tally t = tally("a near-cache never dropped");
    Path root = base.resolve("sandbox");
    Path redisDir = Files.createDirectories(root.resolve("redis"));
    Path work = base.resolve("work");
    Outside outside = Outside.create(root, redisDir);
    try (RedisProcess redis = RedisPassword.start(redisDir, null)) {
      for (int outage : outages) {
        try (TieredCache<String, Record> writer = open(redis.uri())) {
          for (int i = 0; i < keys; i++) {
            writer.put("k-" + i, Record.of("k-" + i, "k", i));
          }
        }
        List<String> args = new ArrayList<>(List.of("reader", "--uri", redis.uri().toString(),
            "--keys", Integer.toString(keys)));
        if (broken) {
          args.add("--near-cache");
        }
        try (Child reader = child("reader-" + outage, args, "256m", work)) {
          reader.await("ready", CHILD_TIMEOUT); // it has read every value
          Thread.sleep(200);
          redis.kill();
          Thread.sleep(outage);
          redis.start(); // empty: no persistence
          long up = System.currentTimeMillis();
          Thread.sleep(afterMillis);
          reader.send("stop " + up);
          String report = reader.await("reads=", CHILD_TIMEOUT);
          reader.finish(CHILD_TIMEOUT);
          long stale = Cli.field(report, "stale");
          t.violation(Tally.EXPIRED_SERVED, stale, "outage of " + outage + " ms: " + stale + " reads after the restart "
              + "returned a value the server no longer had, the last " + Cli.field(report, "lastStaleMs")
              + " ms after it");
          t.fact("reads", Cli.field(report, "reads")).fact("hitsBeforeRestart", Cli.field(report, "hitsBefore"))
              .fact("failedReads", Cli.field(report, "errors"));
        }
      }
    }
    t.outside(outside.changes());
    return t;
  }

  static TieredCache<String, Record> open(URI uri) {
    return TieredCache.builder(String.class, Record.class).store(StoreSpec.redis(uri, Duration.ofMillis(500)))
        .name("restart").expireAfter(Duration.ofHours(1)).build();
  }

  /**
   * Reads every key until each has been served once ({@code ready}), then reads in a loop; on
   * {@code stop <millis>} reports how many reads that started at or after that moment returned a
   * value ({@code stale}).
   */
  @Command(name = "reader", hidden = true)
  int reader(@Option(names = "--uri") URI uri, @Option(names = "--keys") int keys,
      @Option(names = "--near-cache") boolean nearCache) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.US_ASCII);
    AtomicReference<String> stop = whenSaid("stop");
    AtomicLong errors = new AtomicLong();
    try (TieredCache<String, Record> cache = open(uri)) {
      Map<String, Record> near = new ConcurrentHashMap<>();
      Function<String, Record> read = key -> {
        try {
          return nearCache ? near.computeIfAbsent(key, cache::getIfPresent) : cache.getIfPresent(key);
        } catch (CacheException down) {
          errors.incrementAndGet();
          return null;
        }
      };
      for (int i = 0; i < keys; i++) {
        if (read.apply("k-" + i) == null) {
          throw new IllegalStateException("k-" + i + " is not served before the outage");
        }
      }
      out.println("ready");
      long[] hits = new long[1 << 16];
      int hitCount = 0;
      long reads = 0;
      while (stop.get() == null) {
        for (int i = 0; i < keys; i++) {
          long start = System.currentTimeMillis();
          if (read.apply("k-" + i) != null) {
            if (hitCount == hits.length) {
              hits = Arrays.copyOf(hits, hits.length * 2);
            }
            hits[hitCount++] = start;
          }
          reads++;
        }
        LockSupport.parkNanos(200_000);
      }
      String[] words = stop.get().split(" ");
      long up = words.length > 1 ? Long.parseLong(words[1]) : 0;
      long stale = 0;
      long last = -1;
      long lastBefore = 0;
      for (int i = 0; i < hitCount; i++) {
        if (hits[i] >= up) {
          stale++;
          last = hits[i] - up;
        } else {
          lastBefore = hits[i];
        }
      }
      out.println("reads=" + reads + " stale=" + stale + " lastStaleMs=" + last + " hitsBefore=" + (hitCount - stale)
          + " errors=" + errors.get() + " lastHitBeforeMs=" + (lastBefore == 0 ? -1 : up - lastBefore));
    }
    return 0;
  }
}
