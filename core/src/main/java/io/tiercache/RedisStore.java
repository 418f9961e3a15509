package io.tiercache;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.KeyValue;
import io.lettuce.core.Range;
import io.lettuce.core.RedisChannelHandler;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisConnectionStateListener;
import io.lettuce.core.RedisURI;
import io.lettuce.core.RedisFuture;
import io.lettuce.core.ScoredValue;
import io.lettuce.core.ScriptOutputType;
import io.lettuce.core.SetArgs;
import io.lettuce.core.SocketOptions;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.TrackingArgs;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.api.async.RedisAsyncCommands;
import io.lettuce.core.api.push.PushMessage;
import io.lettuce.core.api.sync.RedisCommands;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import io.lettuce.core.protocol.ProtocolVersion;
import io.lettuce.core.resource.ClientResources;
import io.lettuce.core.resource.DefaultClientResources;
import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;

/**
 * The persistent store on a Redis server (6 or newer), shared by JVMs on many machines, through
 * one Lettuce connection per store.
 *
 * <h2>Layout</h2>
 * For the cache name {@code N} (the {@code {N}} hash tag keeps a cache in one slot):
 * <ul>
 *   <li>{@code tiercache:{N}:e:<key>}: the value, written {@code <deadline> <JSON>}: the deadline in
 *       epoch milliseconds by the settings' clock, a space, the JSON bytes of the file store. PX is
 *       the TTL, so Redis removes expired entries itself; the deadline is there because Redis's clock
 *       is not the settings' one (tests run a fake clock, machines' clocks drift from the server's),
 *       and no read may return a value past its deadline by the settings' clock.
 *   <li>{@code tiercache:{N}:epoch}: a counter each clear and replace increments; the other JVMs drop
 *       their whole front tier when it changes.
 *   <li>{@code tiercache-index:{N}}: the live keys by deadline (a sorted set), so that size, iteration
 *       and expiry need no SCAN of the server's key space.
 *   <li>{@code tiercache-lock:{N}:<key>}: a load lease, a random token with a PX of {@code lockTimeout}.
 * </ul>
 * Clear and replace are one Lua script each, so each is atomic; a put or remove is the entry's own
 * command plus a small script on the index.
 *
 * <h2>Coherent front tiers</h2>
 * The connection turns on RESP3 client tracking in broadcast mode ({@code CLIENT TRACKING ON BCAST
 * PREFIX tiercache:{N}:e: PREFIX tiercache:{N}:epoch NOLOOP}): the server itself pushes the name of
 * every entry another client changes, deletes or lets expire. The server sends it as part of the
 * write, so a writer that dies after writing cannot skip it (pub/sub published by the writer could);
 * broadcast rather than default mode because default mode tracks only keys this connection read, and
 * a front tier also holds values it wrote itself, which NOLOOP would leave untracked. (A clear or
 * replace, being a script, drops the writer's own front tier too: Redis 7.0 applies NOLOOP only to
 * plain commands.) Pushes arrive
 * on the Netty thread; an entry name goes to a pool thread because Caffeine's {@code invalidate}
 * waits for a {@code compute} in progress on that key, and a compute may be waiting for a reply
 * only the Netty thread can deliver. Epoch changes are a volatile increment, done at once.
 *
 * <h2>Epochs</h2>
 * A write reads the epoch before it dispatches its command; clear and replace increment it after
 * dispatching theirs, under {@code contentLock}. One connection executes commands in dispatch order,
 * so a front-tier value tagged with the current epoch was written or read after the last clear.
 *
 * <h2>Faults</h2>
 * Every wait for the server is bounded by {@code redisTimeout}. When the connection drops the front
 * tiers keep answering with what they hold (no one can write to a server that is down) and a
 * background task reconnects, 10 ms to 1 s apart; after the new connection's tracking is on, the
 * epoch is incremented, so nothing read before the outage is served after it. Calls that need the
 * server fail at once while it is unreachable, and after the timeout while it does not answer. A
 * write that fails or times out throws (under {@link Durability#ASYNC}: is logged) and its key is
 * dropped from this JVM's front tiers: its outcome is unknown (a paused server may still apply it),
 * so the next read asks the server.
 */
final class RedisStore implements PersistentStore {
  private static final System.Logger LOG = System.getLogger(RedisStore.class.getName());
  private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

  /** {@code -Dtiercache.redis.tracking=false} leaves front tiers incoherent: only to prove the fleet harness notices. */
  static final String TRACKING_PROPERTY = "tiercache.redis.tracking";

  // KEYS: index. ARGV: now, deadline, key, px. Entries past their deadline leave the index.
  private static final String INDEX = "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])\n"
      + "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])\n"
      + "return redis.call('PEXPIRE', KEYS[1], ARGV[4])";
  // KEYS: index, epoch. ARGV: entry prefix, px, deadline, then key, value pairs. Clear has no pairs.
  private static final String REPLACE = "local names = redis.call('ZRANGE', KEYS[1], 0, -1)\n"
      + "for i = 1, #names, 500 do\n"
      + "  local batch = {}\n"
      + "  for j = i, math.min(i + 499, #names) do batch[#batch + 1] = ARGV[1] .. names[j] end\n"
      + "  redis.call('UNLINK', unpack(batch))\n"
      + "end\n"
      + "redis.call('DEL', KEYS[1])\n"
      + "for i = 4, #ARGV, 2 do\n"
      + "  redis.call('SET', ARGV[1] .. ARGV[i], ARGV[i + 1], 'PX', ARGV[2])\n"
      + "  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[i])\n"
      + "end\n"
      + "if #ARGV >= 4 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
      + "return redis.call('INCR', KEYS[2])";
  // KEYS: lock. ARGV: token. Deletes the lease only if it is still ours.
  private static final String RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
      + "  return redis.call('DEL', KEYS[1])\n"
      + "end\n"
      + "return 0";
  private static final List<String> SCRIPTS = List.of(INDEX, REPLACE, RELEASE);
  private static final String INDEX_SHA = sha1(INDEX);
  private static final String REPLACE_SHA = sha1(REPLACE);
  private static final String RELEASE_SHA = sha1(RELEASE);
  private static final int BATCH = 500;

  /** Netty threads shared by every Redis store in the JVM; daemon threads, never shut down. */
  private static final class Shared {
    static final ClientResources RESOURCES = DefaultClientResources.builder()
        .ioThreadPoolSize(2).computationThreadPoolSize(2).build();
    /** Runs invalidations and reconnects: may block (see the class comment), so threads come and go. */
    static final ExecutorService EVENTS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 10, TimeUnit.SECONDS,
        new SynchronousQueue<>(), runnable -> {
          Thread thread = new Thread(runnable, "tiercache-redis-events");
          thread.setDaemon(true);
          return thread;
        });
    static final SecureRandom RANDOM = new SecureRandom();
  }

  private static final class Pending {
    final String key;
    final CompletionStage<?> reply;

    Pending(String key, CompletionStage<?> reply) {
      this.key = key;
      this.reply = reply;
    }
  }

  private final String location;
  private final RedisClient client;
  private final Clock clock;
  private final Durability durability;
  private final long ttlMillis;
  private final long timeoutMillis;
  private final long leaseMillis;
  private final boolean tracking;
  private final String entryPrefix;
  private final String epochKey;
  private final String indexKey;
  private final String lockPrefix;
  private final Listeners listeners = new Listeners();
  private final AtomicLong epoch = new AtomicLong();
  private final AtomicLong seq = new AtomicLong();
  private final Map<Long, Pending> pending = new ConcurrentHashMap<>();
  private final Object contentLock = new Object();
  private final AtomicBoolean reconnecting = new AtomicBoolean();
  private volatile StatefulRedisConnection<String, byte[]> connection;
  private volatile boolean closed;

  private RedisStore(StoreConfig config, StoreSpec.Redis server, String location, RedisClient client) {
    this.location = location;
    this.client = client;
    this.clock = config.clock();
    this.durability = config.durability();
    this.ttlMillis = config.expireAfter().toMillis();
    this.timeoutMillis = server.timeout().toMillis();
    this.leaseMillis = config.lockTimeout().toMillis();
    this.tracking = !"false".equals(System.getProperty(TRACKING_PROPERTY));
    String tag = "{" + config.name() + "}";
    this.entryPrefix = "tiercache:" + tag + ":e:";
    this.epochKey = "tiercache:" + tag + ":epoch";
    this.indexKey = "tiercache-index:" + tag;
    this.lockPrefix = "tiercache-lock:" + tag + ":";
  }

  static RedisStore open(StoreConfig config, StoreSpec.Redis server, String location) {
    RedisURI uri;
    try {
      uri = RedisURI.create(server.uri());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a Redis URI: " + location + " (" + e.getMessage() + ")", e);
    }
    uri.setTimeout(server.timeout());
    RedisClient client = RedisClient.create(Shared.RESOURCES, uri);
    client.setOptions(ClientOptions.builder()
        .protocolVersion(ProtocolVersion.RESP3) // push messages carry the invalidations
        .autoReconnect(false) // reconnect() re-enables tracking before the connection is used
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS) // fail fast while down
        .socketOptions(SocketOptions.builder().connectTimeout(server.timeout()).keepAlive(true).build())
        .timeoutOptions(TimeoutOptions.enabled())
        .build());
    RedisStore store = new RedisStore(config, server, location, client);
    try {
      store.connection = store.connect();
    } catch (RuntimeException e) {
      client.shutdown(0, 0, TimeUnit.MILLISECONDS);
      throw store.failure("cannot connect to Redis", e);
    }
    client.addListener(new RedisConnectionStateListener() {
      @Override
      public void onRedisDisconnected(RedisChannelHandler<?, ?> disconnected) {
        if (disconnected == store.connection) {
          store.startReconnecting();
        }
      }
    });
    return store;
  }

  /** A connection with the scripts loaded and, unless switched off, tracking on. */
  private StatefulRedisConnection<String, byte[]> connect() {
    StatefulRedisConnection<String, byte[]> c = client.connect(CODEC);
    try {
      c.addListener(this::onPush);
      RedisCommands<String, byte[]> sync = c.sync();
      for (String script : SCRIPTS) {
        sync.scriptLoad(script); // a restarted server has forgotten them
      }
      if (tracking) {
        sync.clientTracking(TrackingArgs.Builder.enabled().bcast().prefixes(entryPrefix, epochKey).noloop());
      }
      return c;
    } catch (RuntimeException e) {
      c.closeAsync();
      throw e;
    }
  }

  private void startReconnecting() {
    if (!closed && reconnecting.compareAndSet(false, true)) {
      LOG.log(Level.WARNING, "tiercache: lost the connection to Redis at " + location
          + "; the front tier keeps serving what it holds until the connection is back");
      Shared.EVENTS.execute(() -> reconnect(10));
    }
  }

  private void reconnect(long delayMillis) {
    if (closed) {
      return;
    }
    StatefulRedisConnection<String, byte[]> fresh;
    try {
      fresh = connect();
    } catch (RuntimeException e) {
      long next = Math.min(delayMillis * 2, 1000);
      Maintenance.SCHEDULER.schedule(() -> Shared.EVENTS.execute(() -> reconnect(next)), delayMillis,
          TimeUnit.MILLISECONDS);
      return;
    }
    StatefulRedisConnection<String, byte[]> old;
    synchronized (this) {
      if (closed) {
        fresh.closeAsync();
        return;
      }
      old = connection;
      connection = fresh;
      reconnecting.set(false);
    }
    old.closeAsync();
    // Tracking is on: invalidations missed during the outage can no longer matter once every
    // value read before now is a miss.
    dropAll();
    LOG.log(Level.INFO, "tiercache: reconnected to Redis at " + location + "; dropped the front tier");
  }

  /** Invalidation pushes, on the Netty thread: must not block (see the class comment). */
  private void onPush(PushMessage message) {
    if (!"invalidate".equals(message.getType())) {
      return;
    }
    List<Object> content = message.getContent(StringCodec.UTF8::decodeKey);
    Object keys = content.size() > 1 ? content.get(1) : null;
    if (!(keys instanceof List)) { // null: the server flushed the database
      dropAll();
      return;
    }
    for (Object key : (List<?>) keys) {
      String name = String.valueOf(key);
      if (name.equals(epochKey)) {
        dropAll();
      } else if (name.startsWith(entryPrefix)) {
        String entry = name.substring(entryPrefix.length());
        Shared.EVENTS.execute(() -> listeners.publish(null, entry));
      }
    }
  }

  /** Every front-tier value becomes a miss now; their memory is released in the background. */
  private void dropAll() {
    epoch.incrementAndGet();
    Shared.EVENTS.execute(() -> listeners.publish(null, null));
  }

  private RedisAsyncCommands<String, byte[]> commands() {
    return connection.async();
  }

  // ---------------------------------------------------------------- reads

  @Override
  public Value get(String key) {
    byte[] raw = call(commands().get(entryPrefix + key), "read '" + key + "'");
    return raw == null ? null : live(raw, clock.millis());
  }

  /** The value if its deadline has not passed, or null (also for bytes tiercache did not write). */
  private static Value live(byte[] raw, long now) {
    long deadline = 0;
    int i = 0;
    while (i < raw.length && raw[i] >= '0' && raw[i] <= '9' && i < 19) {
      deadline = deadline * 10 + (raw[i++] - '0');
    }
    if (i == 0 || i == raw.length || raw[i] != ' ' || now >= deadline) {
      return null;
    }
    return new Value(new Encoded(raw, i + 1, raw.length - i - 1, 0), deadline);
  }

  @Override
  public void forEach(BiConsumer<String, Value> action) {
    long now = clock.millis();
    List<byte[]> names = call(commands().zrangebyscore(indexKey, liveScores(now)), "list the keys");
    for (int from = 0; from < names.size(); from += BATCH) {
      List<byte[]> batch = names.subList(from, Math.min(from + BATCH, names.size()));
      String[] keys = new String[batch.size()];
      for (int i = 0; i < keys.length; i++) {
        keys[i] = entryPrefix + new String(batch.get(i), StandardCharsets.UTF_8);
      }
      for (KeyValue<String, byte[]> kv : call(commands().mget(keys), "read the entries")) {
        Value value = kv.hasValue() ? live(kv.getValue(), now) : null;
        if (value != null) {
          action.accept(kv.getKey().substring(entryPrefix.length()), value);
        }
      }
    }
  }

  private static Range<Long> liveScores(long now) {
    return Range.from(Range.Boundary.excluding(now), Range.Boundary.unbounded());
  }

  @Override
  public long size() {
    return call(commands().zcount(indexKey, liveScores(clock.millis())), "count the entries");
  }

  @Override
  public long expiresAtMillis() {
    long now = clock.millis();
    List<ScoredValue<byte[]>> last = call(commands().zrangeWithScores(indexKey, -1, -1), "read the expiry");
    long latest = last.isEmpty() ? 0 : (long) last.get(0).getScore();
    return latest > now ? latest : now + ttlMillis;
  }

  @Override
  public long epoch() {
    return epoch.get();
  }

  // ---------------------------------------------------------------- writes

  /**
   * The entry's SET is a plain command, not part of a script: Redis 7.0 ignores NOLOOP for keys a
   * script writes, and would invalidate the writer's own front tier. The index is updated first, so
   * a writer dying in between leaves an index member without a value (skipped), never the reverse.
   */
  @Override
  public Write put(String key, byte[] encoded) {
    long e = epoch.get(); // before the dispatch: see "Epochs" in the class comment
    long now = clock.millis();
    long deadline = now + ttlMillis;
    byte[] prefix = (deadline + " ").getBytes(StandardCharsets.US_ASCII);
    byte[] value = Arrays.copyOf(prefix, prefix.length + encoded.length);
    System.arraycopy(encoded, 0, value, prefix.length, encoded.length);
    RedisAsyncCommands<String, byte[]> c = commands();
    RedisFuture<Object> indexed = c.evalsha(INDEX_SHA, ScriptOutputType.INTEGER, new String[] {indexKey},
        ascii(now), ascii(deadline), utf8(key), ascii(px()));
    RedisFuture<String> stored = c.set(entryPrefix + key, value, SetArgs.Builder.px(px()));
    return track(key, e, deadline, both(indexed, stored));
  }

  @Override
  public Write remove(String key) {
    long e = epoch.get();
    RedisAsyncCommands<String, byte[]> c = commands();
    RedisFuture<Long> deleted = c.del(entryPrefix + key);
    RedisFuture<Long> unindexed = c.zrem(indexKey, utf8(key));
    return track(key, e, clock.millis() + ttlMillis, both(deleted, unindexed));
  }

  private static CompletionStage<Void> both(RedisFuture<?> a, RedisFuture<?> b) {
    return CompletableFuture.allOf(a.toCompletableFuture(), b.toCompletableFuture());
  }

  @Override
  public Write clear() {
    return replaceAll(Map.of());
  }

  @Override
  public Write replaceAll(Map<String, byte[]> entries) {
    long deadline = clock.millis() + ttlMillis;
    byte[][] args = new byte[3 + 2 * entries.size()][];
    args[0] = utf8(entryPrefix);
    args[1] = ascii(px());
    args[2] = ascii(deadline);
    int i = 3;
    byte[] prefix = (deadline + " ").getBytes(StandardCharsets.US_ASCII);
    for (Map.Entry<String, byte[]> entry : entries.entrySet()) {
      byte[] value = Arrays.copyOf(prefix, prefix.length + entry.getValue().length);
      System.arraycopy(entry.getValue(), 0, value, prefix.length, entry.getValue().length);
      args[i++] = utf8(entry.getKey());
      args[i++] = value;
    }
    synchronized (contentLock) {
      CompletionStage<Object> reply = commands().evalsha(REPLACE_SHA, ScriptOutputType.INTEGER,
          new String[] {indexKey, epochKey}, args);
      return track(null, epoch.incrementAndGet(), deadline, reply); // after the dispatch: see "Epochs"
    }
  }

  /** PX must be positive; a TTL of zero or less still gives deadlines in the past, which reads honour. */
  private long px() {
    return Math.max(1, ttlMillis);
  }

  private Write track(String key, long epochOfWrite, long deadline, CompletionStage<?> reply) {
    if (durability == Durability.ASYNC) {
      reply.whenComplete((r, failure) -> {
        if (failure != null) {
          LOG.log(Level.WARNING, "tiercache: an ASYNC write to Redis failed; its key was dropped from the front tier ["
              + location + "]", failure);
          Shared.EVENTS.execute(() -> unconfirmed(key));
        }
      });
      return new Write(0, epochOfWrite, deadline);
    }
    long s = seq.incrementAndGet();
    pending.put(s, new Pending(key, reply));
    return new Write(s, epochOfWrite, deadline);
  }

  /**
   * Waits for the server's reply. {@link Durability#FSYNC} waits for no more than {@link Durability#WRITE}:
   * the server's own persistence settings decide what reaches its disk.
   */
  @Override
  public void await(Write write) {
    Pending p = pending.remove(write.seq);
    if (p == null) {
      return;
    }
    try {
      call(p.reply, p.key == null ? "replace the content" : "write '" + p.key + "'");
    } catch (CacheException e) {
      unconfirmed(p.key);
      throw e;
    }
  }

  /** A write whose outcome is unknown: drop what the front tiers hold of it, so reads ask the server. */
  private void unconfirmed(String key) {
    if (key == null) {
      epoch.incrementAndGet();
      listeners.publish(null, null);
    } else {
      listeners.publish(null, key);
    }
  }

  // ---------------------------------------------------------------- the lease

  @Override
  public Lease lease(String key) {
    String lock = lockPrefix + key;
    byte[] token = new byte[16];
    Shared.RANDOM.nextBytes(token);
    byte[] value = utf8(HexFormat.of().formatHex(token));
    long giveUp = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(leaseMillis);
    long pause = 2;
    while (true) {
      String ok = call(commands().set(lock, value, SetArgs.Builder.nx().px(leaseMillis)), "lock '" + key + "'");
      if ("OK".equals(ok)) {
        // Dispatched after the loader's write, on the same connection: the server stores first.
        return () -> commands().evalsha(RELEASE_SHA, ScriptOutputType.INTEGER, new String[] {lock}, value);
      }
      // Another process is loading. Its value ends the wait; a holder slower than lockTimeout
      // (or dead: the lease expires) does not keep this caller waiting longer.
      if (get(key) != null || System.nanoTime() - giveUp > 0) {
        return () -> { };
      }
      try {
        Thread.sleep(pause);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw failure("interrupted while waiting for another process to load '" + key + "'", e);
      }
      pause = Math.min(pause * 2, 50);
    }
  }

  // ---------------------------------------------------------------- the rest

  /** Other JVMs' changes arrive as pushes; what may be in flight becomes a miss. */
  @Override
  public void refresh() {
    epoch.incrementAndGet();
    listeners.publish(null, null);
  }

  /** Returns when every command dispatched before it has been executed by the server. */
  @Override
  public void flush() {
    call(commands().ping(), "flush");
  }

  @Override
  public Listeners listeners() {
    return listeners;
  }

  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    try {
      flush(); // ASYNC writes in flight
    } catch (CacheException e) {
      LOG.log(Level.WARNING, "tiercache: closing without confirming every write: " + e.getMessage());
    }
    client.shutdownAsync(0, timeoutMillis, TimeUnit.MILLISECONDS); // closes the connection
  }

  // ---------------------------------------------------------------- helpers

  /** The reply, waited for at most {@code redisTimeout}. */
  private <T> T call(CompletionStage<T> reply, String what) {
    try {
      return reply.toCompletableFuture().get(timeoutMillis, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      throw failure("Redis did not answer within " + timeoutMillis + " ms to " + what, e);
    } catch (ExecutionException e) {
      throw failure("Redis could not " + what + ": " + e.getCause().getMessage(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw failure("interrupted while waiting for Redis to " + what, e);
    }
  }

  private CacheException failure(String message, Throwable cause) {
    return new CacheException(message + " [" + location + "]", null, cause);
  }

  private static byte[] ascii(long n) {
    return Long.toString(n).getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String sha1(String script) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(utf8(script)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  @Override
  public String toString() {
    return "RedisStore[" + location + "]";
  }
}
