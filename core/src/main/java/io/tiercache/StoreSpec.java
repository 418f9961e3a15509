package io.tiercache;

import java.net.URI;
import java.time.Duration;
import java.util.Objects;

/**
 * Where a cache's persistent tier lives: one record per store, chosen with
 * {@link TieredCacheBuilder#store}. The default is {@link #jsonFiles()}.
 *
 * <pre>{@code
 * TieredCache.builder(String.class, Model.class).store(StoreSpec.jsonFiles())                       // the default
 * TieredCache.builder(String.class, Model.class).store(StoreSpec.chronicleMap(1_000_000, 2_048))
 * TieredCache.builder(String.class, Model.class).store(StoreSpec.redis(URI.create("redis://cache:6379/0")))
 * }</pre>
 */
public sealed interface StoreSpec permits StoreSpec.JsonFiles, StoreSpec.ChronicleMap, StoreSpec.Redis {

  /**
   * {@code <name>.json} (the Python SDK's snapshot format), {@code <name>.journal} and
   * {@code <name>.lock} in the builder's directory, shared by the processes of one host.
   */
  static JsonFiles jsonFiles() {
    return new JsonFiles();
  }

  /**
   * One memory-mapped Chronicle Map file, {@code <name>.cmap}, shared by every process on the host:
   * a put in one process is seen by a get in any other as soon as it returns, with no refresh
   * interval. Each entry expires {@code expireAfter} after its own write (the JSON store expires its
   * content as a whole, as the Python SDK does). {@link Durability#ASYNC} and {@link Durability#WRITE}
   * both return once the value is in the shared mapping: a killed process loses no acknowledged
   * write (a value it was replacing when killed is restored from a copy it kept in
   * {@code <name>.cmap.undo-<id>}); {@link Durability#FSYNC} also forces the file to disk.
   *
   * <p>The sizes are fixed when the file is created: past them a put throws {@link CacheException}
   * (an existing file keeps its own sizes). Needs {@code net.openhft:chronicle-map} on the class path
   * and, on JDK 17+, the JVM flags listed in the README; without them {@code build()} throws
   * {@link CacheException} naming what is missing. Chronicle's usage analytics are switched off
   * unless the {@code chronicle.analytics.disable} system property says otherwise.
   *
   * @param entries how many entries the file must hold (a replace briefly needs room for old and new)
   * @param averageValueBytes the average size of a value's JSON
   * @throws IllegalArgumentException if either is not positive
   */
  static ChronicleMap chronicleMap(long entries, int averageValueBytes) {
    return new ChronicleMap(entries, averageValueBytes);
  }

  /** {@link #redis(URI, Duration)} with a timeout of 2 seconds. */
  static Redis redis(URI uri) {
    return new Redis(uri, Redis.DEFAULT_TIMEOUT);
  }

  /**
   * Keeps the persistent tier in Redis, so that JVMs on many machines share one cache; each keeps its
   * own front tier, which Redis keeps coherent (RESP3 client tracking: a value another JVM changes is
   * dropped here within milliseconds). Values are the JSON of the file store, and Redis itself removes
   * them {@code expireAfter} after their write. The builder's directory is not used; the cache name
   * names the keys ({@code tiercache:{name}:...}).
   *
   * <p>While Redis is down or paused, reads the front tier can answer still succeed; every other call
   * fails with {@link CacheException} after at most {@code timeout}, and a failed write is not retried
   * (its key is dropped from the front tier, since Redis may still apply it). Standalone and Sentinel
   * URIs; Redis Cluster is not supported. Needs Redis 6 or newer and {@code io.lettuce:lettuce-core}
   * 6.x on the class path ({@code build()} names it when it is missing). The cache's name may contain
   * neither <code>&#123;</code> nor <code>&#125;</code>: its keys put it between them, as their hash tag.
   *
   * @param uri the server, in Lettuce's URI syntax ({@code redis://}, {@code rediss://},
   *     {@code redis-sentinel://h1,h2/0#master}); credentials in it never appear in messages
   * @param timeout the longest any call waits for Redis (to connect, read, or confirm a write);
   *     {@code get(key, loader)} may also wait up to the builder's {@code lockTimeout} for another JVM
   *     loading the same key
   */
  static Redis redis(URI uri, Duration timeout) {
    return new Redis(uri, timeout);
  }

  /** See {@link StoreSpec#jsonFiles()}. */
  record JsonFiles() implements StoreSpec {}

  /** See {@link StoreSpec#chronicleMap(long, int)}. */
  record ChronicleMap(long entries, int averageValueBytes) implements StoreSpec {
    public ChronicleMap {
      if (entries <= 0 || averageValueBytes <= 0) {
        throw new IllegalArgumentException("chronicleMap needs positive sizes: entries=" + entries
            + ", averageValueBytes=" + averageValueBytes);
      }
    }
  }

  /** See {@link StoreSpec#redis(URI, Duration)}. */
  record Redis(URI uri, Duration timeout) implements StoreSpec {
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);

    public Redis {
      Objects.requireNonNull(uri, "uri");
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("the Redis timeout must be positive: " + timeout);
      }
    }

    /** The URI without credentials, as it appears in messages. */
    public String displayUri() {
      return uri.toString().replaceFirst("^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", "$1");
    }

    /** Without the credentials the URI may carry. */
    @Override
    public String toString() {
      return "Redis[uri=" + displayUri() + ", timeout=" + timeout + "]";
    }
  }
}
