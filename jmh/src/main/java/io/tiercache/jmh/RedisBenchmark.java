package io.tiercache.jmh;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import io.tiercache.jmh.Fixtures.Asset;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The Redis store against the raw libraries it is built on, on a redis-server this benchmark starts
 * on a free loopback port: a near-cache hit ({@code nearCacheHit}) against raw Caffeine with the
 * same bound and expiry ({@code caffeineHit}), and a front-tier miss answered by Redis
 * ({@code redisMiss}: GET, deadline check, decode, front-tier insert) against Lettuce's sync
 * {@code GET} of the same key ({@code lettuceGet}, bytes only).
 *
 * <p>Misses: the miss cache's front tier holds nothing ({@code maximumSize(0)}) and keys are read
 * in turn, so each read goes to the server.
 *
 * <p>The heap is touched before the measurement ({@code -XX:+AlwaysPreTouch}): see {@link StoreBenchmark}.
 */
@State(Scope.Benchmark)
@Fork(value = 3, jvmArgsAppend = {"-Xms1g", "-Xmx1g", "-XX:+AlwaysPreTouch"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class RedisBenchmark {
  static final int SIZE = 10_000;

  String[] keys;
  String[] redisKeys;
  int[] zipf;
  Process server;
  Path serverDir;
  RedisClient client;
  StatefulRedisConnection<String, byte[]> raw;
  RedisCommands<String, byte[]> lettuce;
  TieredCache<String, Asset> near;
  TieredCache<String, Asset> missing;
  Cache<String, Asset> caffeine;

  /** Each thread's position in the key sequences. */
  @State(Scope.Thread)
  public static class Cursor {
    int hit;
    int miss;
  }

  @Setup(Level.Trial)
  public void setUp() throws Exception {
    URI uri = startServer();
    keys = new String[SIZE];
    redisKeys = new String[SIZE];
    near = TieredCache.builder(String.class, Asset.class).store(StoreSpec.redis(uri)).name("bench").maximumSize(2 * SIZE)
        .expireAfter(Duration.ofHours(1)).build();
    missing = TieredCache.builder(String.class, Asset.class).store(StoreSpec.redis(uri)).name("bench").maximumSize(0)
        .expireAfter(Duration.ofHours(1)).build();
    caffeine = Caffeine.newBuilder().maximumSize(2 * SIZE).expireAfterWrite(Duration.ofHours(1)).build();
    for (int i = 0; i < SIZE; i++) {
      keys[i] = Fixtures.key(i);
      redisKeys[i] = "tiercache:{bench}:e:" + keys[i];
      Asset value = Fixtures.asset(keys[i], "small");
      near.put(keys[i], value);
      caffeine.put(keys[i], value);
    }
    zipf = Fixtures.zipfIndexes(SIZE, 1 << 16, 42);
    client = RedisClient.create(uri.toString());
    raw = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
    lettuce = raw.sync();
    for (int i = 0; i < SIZE; i++) {
      if (near.getIfPresent(keys[i]) == null || lettuce.get(redisKeys[i]) == null) {
        throw new IllegalStateException("lost " + keys[i] + " while warming");
      }
    }
  }

  private URI startServer() throws IOException, InterruptedException {
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    Path dir = Files.createTempDirectory("tiercache-redis-bench");
    serverDir = dir;
    server = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", dir.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
    for (int attempt = 0; ; attempt++) {
      try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
        socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
        if (socket.getInputStream().read() == '+') {
          return URI.create("redis://127.0.0.1:" + port);
        }
      } catch (IOException notYet) {
        if (attempt > 500 || !server.isAlive()) {
          throw new IOException("redis-server (Debian package redis-server) did not start; see " + dir, notYet);
        }
      }
      Thread.sleep(10);
    }
  }

  @TearDown(Level.Trial)
  public void tearDown() throws Exception {
    near.close();
    missing.close();
    raw.close();
    client.shutdown();
    server.destroyForcibly();
    server.waitFor(10, TimeUnit.SECONDS);
    Cleanup.delete(serverDir);
  }

  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public Asset nearCacheHit(Cursor c) {
    return near.getIfPresent(keys[zipf[c.hit++ & (zipf.length - 1)]]);
  }

  @Benchmark
  @BenchmarkMode(Mode.Throughput)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public Asset caffeineHit(Cursor c) {
    return caffeine.getIfPresent(keys[zipf[c.hit++ & (zipf.length - 1)]]);
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public Asset redisMiss(Cursor c) {
    c.miss = c.miss + 1 == SIZE ? 0 : c.miss + 1;
    return missing.getIfPresent(keys[c.miss]);
  }

  @Benchmark
  @BenchmarkMode(Mode.AverageTime)
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public byte[] lettuceGet(Cursor c) {
    c.miss = c.miss + 1 == SIZE ? 0 : c.miss + 1;
    return lettuce.get(redisKeys[c.miss]);
  }
}
