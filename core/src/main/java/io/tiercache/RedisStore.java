package io.tiercache;

import io.lettuce.core.ClientOptions;
import io.lettuce.core.ConnectionFuture;
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
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.System.Logger.Level;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

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
 * <h2>Bounded staleness</h2>
 * Pushes are applied as soon as this JVM runs the threads that apply them, which a stalled JVM,
 * host or network delays: a fleet of 8 JVMs on 2 cores served values 300-390 ms after their
 * successors were acknowledged. So a front tier serves a hit only while the store has confirmed
 * that every change acknowledged up to {@link #CONFIRM_MILLIS} ago has reached it. Every
 * {@link #PROBE_MILLIS} a PING goes down the connection; one connection delivers in order, so when
 * its reply arrives every push the server sent before executing it has arrived too, and once those
 * are applied (none is {@link #applying}), every write acknowledged before the PING was sent is in
 * the front tiers. Past the bound without such a confirmation (a stall, a lost connection), hits
 * become reads of the server until one arrives. Times are the settings' clock, which a hit reads
 * anyway: a clock read of its own made the near-cache hit 30% slower here.
 *
 * <h2>Epochs</h2>
 * A write reads the epoch before it dispatches its command; clear and replace increment it after
 * dispatching theirs, under {@code contentLock}. One connection executes commands in dispatch order,
 * so a front-tier value tagged with the current epoch was written or read after the last clear.
 *
 * <h2>Faults</h2>
 * Every wait for the server is bounded by {@code redisTimeout}, the connection included: Lettuce's
 * and Netty's classes are loaded and initialized once per JVM beforehand (a cold connect took over
 * a second here, mostly class loading), so the timeout measures the network. When the connection
 * drops, the epoch is incremented at once and the front tiers are dropped: the server may come back
 * without its data (restarted empty), and invalidations sent meanwhile are lost, so nothing read
 * before the loss is served after it. A background task reconnects, 10 ms to 1 s apart, turns
 * tracking back on and drops the front tiers again (a write that failed during the outage may have
 * left its value there). Calls that need the server fail at once while it is unreachable, and after
 * the timeout while it does not answer. A write that fails or times out throws (under
 * {@link Durability#ASYNC}: is logged) and its key is dropped from this JVM's front tiers: its
 * outcome is unknown (a paused server may still apply it), so the next read asks the server.
 *
 * <h2>Stale values</h2>
 * With a {@link StoreConfig#staleGrace}, an entry's PX is the TTL plus the grace and it stays in the
 * index until Redis has expired it (so a clear removes it too, whatever the writer's grace); its value still carries its
 * real deadline, which {@link #get} obeys, while {@link #getStale} serves it until the grace ends.
 */
final class RedisStore implements PersistentStore {
  private static final System.Logger LOG = System.getLogger(RedisStore.class.getName());
  private static final RedisCodec<String, byte[]> CODEC = RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE);

  /** {@code -Dtiercache.redis.tracking=false} leaves front tiers incoherent: only to prove the fleet harness notices. */
  static final String TRACKING_PROPERTY = "tiercache.redis.tracking";
  /** Tests only: runs between a put's or remove's two commands, given the first one's reply. */
  static volatile Consumer<CompletionStage<?>> betweenCommands = first -> {};
  /** How long a front-tier hit may go without confirming that other JVMs' changes have arrived. */
  static final long CONFIRM_MILLIS = 100;
  /** How often the store asks for that confirmation: a PING on the connection. */
  static final long PROBE_MILLIS = 20;

  // KEYS: index. ARGV: now, deadline, key, px, entry prefix. A few members past their deadline leave the index
  // once their entry is gone: Redis expired it, after a grace this writer does not know (other JVMs may keep
  // longer ones). The index's TTL is only ever extended: under other JVMs' longer-lived entries, a writer
  // with a shorter TTL would let the index expire, and clear would no longer find them. (PTTL, not
  // PEXPIRE GT: Redis 6 has no GT.)
  private static final String INDEX = "for _, name in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1],"
      + " 'LIMIT', 0, 8)) do\n"
      + "  if redis.call('EXISTS', ARGV[5] .. name) == 0 then redis.call('ZREM', KEYS[1], name) end\n"
      + "end\n"
      + "redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])\n"
      + "if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end\n"
      + "return 0";
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

  /** Netty threads and clients shared by every Redis store in the JVM; daemon threads, never shut down. */
  private static final class Shared {
    static final ClientResources RESOURCES = DefaultClientResources.builder()
        .ioThreadPoolSize(2).computationThreadPoolSize(2).build();
    /**
     * One client per timeout (a client's socket options hold it), never shut down: a client shut down
     * after a failed connect releases its event loops while Lettuce's handshake timer for that
     * connection is still pending, and when it fires Netty logs a SEVERE stack trace.
     */
    static final Map<Duration, RedisClient> CLIENTS = new ConcurrentHashMap<>();
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
  private final RedisURI uri;
  private final Clock clock;
  private final Durability durability;
  private final long ttlMillis;
  private final long graceMillis;
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
  /**
   * The time (the settings' clock, which the hit has read already) as of which every change made
   * elsewhere has reached the front tiers.
   */
  private final AtomicLong confirmedAsOf;
  /** When the last PING answered was sent: confirmed once nothing received before its reply is applying. */
  private volatile long answeredProbe;
  /** Invalidations received and not yet applied to the front tiers. */
  private final AtomicInteger applying = new AtomicInteger();
  /** False only in tests, to show that they catch a store whose hits outlive a stalled invalidation. */
  volatile boolean confirmHits = true;
  private volatile @Nullable ScheduledFuture<?> probes;
  private final AtomicLong losses = new AtomicLong();
  private final RedisConnectionStateListener lossListener = new RedisConnectionStateListener() {
    @Override
    public void onRedisDisconnected(RedisChannelHandler<?, ?> disconnected) {
      if (disconnected == connection) {
        lost();
      }
    }
  };
  /** False only in tests, to show that they catch a store that keeps serving what it read before a loss. */
  volatile boolean dropOnLoss = true;
  private volatile StatefulRedisConnection<String, byte[]> connection;
  private volatile boolean closed;

  private RedisStore(StoreConfig config, StoreSpec.Redis server, String location, RedisClient client, RedisURI uri) {
    this.location = location;
    this.client = client;
    this.uri = uri;
    this.clock = config.clock();
    this.durability = config.durability();
    this.ttlMillis = config.expireAfter().toMillis();
    this.graceMillis = config.staleGrace().toMillis();
    this.timeoutMillis = server.timeout().toMillis();
    this.leaseMillis = config.lockTimeout().toMillis();
    this.tracking = !"false".equals(System.getProperty(TRACKING_PROPERTY));
    this.answeredProbe = clock.millis();
    this.confirmedAsOf = new AtomicLong(answeredProbe);
    String tag = "{" + config.name() + "}";
    this.entryPrefix = "tiercache:" + tag + ":e:";
    this.epochKey = "tiercache:" + tag + ":epoch";
    this.indexKey = "tiercache-index:" + tag;
    this.lockPrefix = "tiercache-lock:" + tag + ":";
  }

  static RedisStore open(StoreConfig config, StoreSpec.Redis server, String location) {
    if (config.name().indexOf('{') >= 0 || config.name().indexOf('}') >= 0) {
      // "{name}" is the keys' hash tag: a brace inside would end it early, and cache "a" with key
      // "b}:e:k" would write cache "a}:e:b"'s key "k"
      throw new IllegalArgumentException("cache name '" + config.name() + "' cannot name a Redis store: its"
          + " keys put the name between '{' and '}', so the name may contain neither");
    }
    RedisURI uri;
    try {
      uri = RedisURI.create(server.uri());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not a Redis URI: " + location + " (" + e.getMessage() + ")", e);
    }
    uri.setTimeout(server.timeout());
    RedisClient client = Shared.CLIENTS.computeIfAbsent(server.timeout(), RedisStore::newClient);
    warmUp(client);
    RedisStore store = new RedisStore(config, server, location, client, uri);
    client.addListener(store.lossListener); // before the connection exists: a loss right after connecting counts
    try {
      store.connection = store.connect();
    } catch (CacheException e) {
      client.removeListener(store.lossListener);
      throw store.failure("cannot connect to Redis: " + e.getMessage(), e.getCause());
    }
    store.lostUnnoticed();
    store.probes = Maintenance.SCHEDULER.scheduleWithFixedDelay(store::probe, 0, PROBE_MILLIS, TimeUnit.MILLISECONDS);
    return store;
  }

  private static RedisClient newClient(Duration timeout) {
    RedisClient client = RedisClient.create(Shared.RESOURCES);
    client.setOptions(ClientOptions.builder()
        .protocolVersion(ProtocolVersion.RESP3) // push messages carry the invalidations
        .autoReconnect(false) // reconnect() re-enables tracking before the connection is used
        .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS) // fail fast while down
        .socketOptions(SocketOptions.builder().connectTimeout(timeout).keepAlive(true).build())
        .timeoutOptions(TimeoutOptions.enabled())
        .build());
    return client;
  }

  /**
   * A connection with the scripts loaded and, unless switched off, tracking on, within one timeout.
   * Lettuce's own connect waits for the handshake without bound when the server accepts and does
   * not answer (SIGSTOP): the wait here is ours.
   *
   * @throws CacheException saying why, without the location
   */
  private StatefulRedisConnection<String, byte[]> connect() {
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
    StatefulRedisConnection<String, byte[]> c = null;
    for (int attempt = 1; c == null; attempt++) {
      ConnectionFuture<StatefulRedisConnection<String, byte[]>> pending = client.connectAsync(CODEC, uri);
      try {
        c = pending.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        pending.thenAccept(StatefulRedisConnection::closeAsync); // should it complete after all
        throw new CacheException("no connection within " + timeoutMillis + " ms", null, e);
      } catch (ExecutionException e) {
        String reason = rootMessage(e.getCause());
        // A handshake refused (WRONGPASS, NOAUTH) closes the channel; when that wins a race with
        // Lettuce's own connect listener, Lettuce reports this instead of the server's reason. Once more.
        if (!reason.equals("RedisHandshakeHandler not registered") || attempt == 2) {
          throw new CacheException(reason, null, e.getCause());
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new CacheException("interrupted while connecting", null, e);
      }
    }
    try {
      c.addListener(this::onPush);
      RedisAsyncCommands<String, byte[]> async = c.async();
      List<CompletableFuture<String>> setup = new java.util.ArrayList<>();
      for (String script : SCRIPTS) {
        setup.add(async.scriptLoad(script).toCompletableFuture()); // a restarted server has forgotten them
      }
      if (tracking) {
        setup.add(async.clientTracking(TrackingArgs.Builder.enabled().bcast().prefixes(entryPrefix, epochKey).noloop())
            .toCompletableFuture());
      }
      long left = Math.max(0, deadline - System.nanoTime());
      CompletableFuture.allOf(setup.toArray(CompletableFuture[]::new)).get(left, TimeUnit.NANOSECONDS);
      return c;
    } catch (TimeoutException e) {
      c.closeAsync();
      throw new CacheException("Redis did not answer within " + timeoutMillis + " ms", null, e);
    } catch (ExecutionException e) {
      c.closeAsync();
      throw new CacheException(rootMessage(e.getCause()), null, e.getCause());
    } catch (InterruptedException e) {
      c.closeAsync();
      Thread.currentThread().interrupt();
      throw new CacheException("interrupted while connecting", null, e);
    }
  }

  /** The innermost message: Lettuce wraps "WRONGPASS ..." in "Unable to connect to host". */
  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) {
      t = t.getCause();
    }
    return t.getMessage() != null ? t.getMessage() : t.toString();
  }

  private static boolean warmedUp;

  /**
   * Loads and initializes Lettuce's and Netty's connection path once per JVM, so that the first real
   * connect's timeout measures the network rather than class loading (1-1.6 s for a cold connect on
   * this project's 2-core machine, 13-80 ms for a second one): a whole connection, handshake and the
   * commands the store sends, against a responder on a loopback port of this JVM that answers like
   * a Redis server. Without a loopback port (a sandbox), the first connect goes cold.
   */
  private static synchronized void warmUp(RedisClient client) {
    if (warmedUp || !"true".equals(System.getProperty(WARM_UP_PROPERTY, "true"))) {
      return;
    }
    warmedUp = true;
    try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      listener.setSoTimeout(10_000);
      Thread responder = new Thread(() -> respond(listener), "tiercache-redis-warm-up");
      responder.setDaemon(true);
      responder.start();
      RedisURI local = RedisURI.create("redis://" + listener.getInetAddress().getHostAddress() + ":"
          + listener.getLocalPort());
      local.setTimeout(Duration.ofSeconds(10));
      StatefulRedisConnection<String, byte[]> c = client.connect(CODEC, local);
      try {
        RedisAsyncCommands<String, byte[]> async = c.async();
        List<CompletionStage<?>> replies = List.of(async.scriptLoad(RELEASE),
            async.clientTracking(TrackingArgs.Builder.enabled().bcast().prefixes("w").noloop()),
            async.get("w"), async.set("w", new byte[1], SetArgs.Builder.px(1)),
            async.evalsha(RELEASE_SHA, ScriptOutputType.INTEGER, new String[] {"w"}, new byte[1]), async.ping());
        for (CompletionStage<?> reply : replies) {
          try {
            reply.toCompletableFuture().get(10, TimeUnit.SECONDS);
          } catch (ExecutionException answeredWrongly) {
            // the responder's answers are rough; the code paths are what count
          }
        }
      } finally {
        c.close();
      }
    } catch (IOException | RuntimeException | InterruptedException | TimeoutException e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      LOG.log(Level.DEBUG, "tiercache: could not warm up Lettuce on a loopback port; the first connect runs cold", e);
    }
  }

  /** -Dtiercache.redis.warmUp=false: only to show that the cold-JVM test catches a cold first connect. */
  static final String WARM_UP_PROPERTY = "tiercache.redis.warmUp";

  /** The warm-up's responder: HELLO gets a RESP3 map, GET a null, EVALSHA an integer, the rest +OK. */
  private static void respond(ServerSocket listener) {
    try (Socket socket = listener.accept()) {
      socket.setSoTimeout(10_000);
      InputStream in = socket.getInputStream();
      OutputStream out = socket.getOutputStream();
      while (true) {
        List<String> command = readCommand(in);
        if (command == null) {
          return;
        }
        String name = command.isEmpty() ? "" : command.get(0).toUpperCase(java.util.Locale.ROOT);
        String reply;
        switch (name) {
          case "HELLO":
            reply = "%3\r\n+server\r\n+redis\r\n+version\r\n+7.0.0\r\n+proto\r\n:3\r\n";
            break;
          case "GET":
            reply = "_\r\n";
            break;
          case "EVALSHA":
            reply = ":0\r\n";
            break;
          case "PING":
            reply = "+PONG\r\n";
            break;
          default:
            reply = "+OK\r\n";
        }
        out.write(reply.getBytes(StandardCharsets.US_ASCII));
        out.flush();
      }
    } catch (IOException e) {
      // the warm-up's client went away
    }
  }

  /** One RESP array of bulk strings, or null at the end of the stream. */
  private static List<String> readCommand(InputStream in) throws IOException {
    String header = readLine(in);
    if (header == null || !header.startsWith("*")) {
      return null;
    }
    List<String> parts = new java.util.ArrayList<>();
    for (int n = Integer.parseInt(header.substring(1)); n > 0; n--) {
      String length = readLine(in);
      if (length == null || !length.startsWith("$")) {
        return null;
      }
      byte[] bytes = in.readNBytes(Integer.parseInt(length.substring(1)) + 2);
      parts.add(new String(bytes, 0, Math.max(0, bytes.length - 2), StandardCharsets.UTF_8));
    }
    return parts;
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c == -1) {
        return null;
      }
      if (c != '\r') {
        line.append((char) c);
      }
    }
    return line.toString();
  }

  /**
   * The connection is gone (the server was killed, restarted, or the network failed): drops the front
   * tiers at once, since invalidations sent meanwhile are lost and the server may come back empty,
   * then reconnects in the background.
   */
  private void lost() {
    if (closed) {
      return;
    }
    if (dropOnLoss) {
      dropAll();
    }
    losses.incrementAndGet();
    if (reconnecting.compareAndSet(false, true)) {
      LOG.log(Level.WARNING, "tiercache: lost the connection to Redis at " + location
          + "; dropped the front tier, reconnecting (calls that need Redis fail until then)");
      Shared.EVENTS.execute(() -> reconnect(10));
    }
  }

  /** A connection that closed before it was installed was not the store's when its loss was told. */
  private void lostUnnoticed() {
    if (!connection.isOpen()) {
      lost();
    }
  }

  /** The connection in use: for tests, which stall its I/O thread. */
  StatefulRedisConnection<String, byte[]> connection() {
    return connection;
  }

  /** How many times the connection was lost: for tests, which wait for the store to notice. */
  long losses() {
    return losses.get();
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
    lostUnnoticed();
    // Tracking is on: from now on every change reaches this JVM. A write that failed during the
    // outage may have left its value in a front tier, so drop once more.
    dropAll();
    LOG.log(Level.INFO, "tiercache: reconnected to Redis at " + location);
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
        applying.incrementAndGet();
        Shared.EVENTS.execute(() -> {
          try {
            listeners.publish(null, entry);
          } finally {
            long answered = answeredProbe; // before the decrement: its reply came before it
            if (applying.decrementAndGet() == 0) {
              confirm(answered);
            }
          }
        });
      }
    }
  }

  /** Asks the server for a reply that comes after every push it sent before: see "Bounded staleness". */
  private void probe() {
    if (closed) {
      return;
    }
    long sent = clock.millis();
    try { // a throw would end the schedule
      commands().ping().thenRun(() -> {
        answeredProbe = sent; // one connection answers in order; a new one, only after the old is gone
        if (applying.get() == 0) {
          confirm(sent);
        }
      });
    } catch (RuntimeException rejected) {
      // disconnected: nothing is confirmed until the reconnect, and the hits stop at the bound
    }
  }

  private void confirm(long asOf) {
    confirmedAsOf.accumulateAndGet(asOf, Math::max);
  }

  @Override
  public boolean readsAreLocal() {
    return false; // a read the front tier did not keep would cost the next reader a round trip
  }

  @Override
  public boolean frontConfirmed(long nowMillis) {
    return nowMillis - confirmedAsOf.get() <= CONFIRM_MILLIS || !confirmHits;
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
    return raw == null ? null : live(raw, clock.millis(), 0);
  }

  @Override
  public Value getStale(String key) {
    if (graceMillis <= 0) {
      return null;
    }
    byte[] raw = call(commands().get(entryPrefix + key), "read '" + key + "'");
    return raw == null ? null : live(raw, clock.millis(), graceMillis);
  }

  /**
   * The value if its deadline plus {@code grace} has not passed, or null (also for bytes tiercache
   * did not write).
   */
  private static Value live(byte[] raw, long now, long grace) {
    long deadline = 0;
    int i = 0;
    while (i < raw.length && raw[i] >= '0' && raw[i] <= '9' && i < 19) {
      deadline = deadline * 10 + (raw[i++] - '0');
    }
    if (i == 0 || i == raw.length || raw[i] != ' ' || now - grace >= deadline) {
      return null;
    }
    return new Value(new Encoded(raw, i + 1, raw.length - i - 1, 0), deadline);
  }

  @Override
  public void forEach(BiConsumer<String, Value> action) {
    forEach(0, action);
  }

  @Override
  public void forEachStale(BiConsumer<String, Value> action) {
    if (graceMillis > 0) {
      forEach(graceMillis, action);
    }
  }

  /** Visits the entries whose deadline plus {@code grace} has not passed. */
  private void forEach(long grace, BiConsumer<String, Value> action) {
    long now = clock.millis();
    List<byte[]> names = call(commands().zrangebyscore(indexKey, liveScores(now - grace)), "list the keys");
    for (int from = 0; from < names.size(); from += BATCH) {
      List<byte[]> batch = names.subList(from, Math.min(from + BATCH, names.size()));
      String[] keys = new String[batch.size()];
      for (int i = 0; i < keys.length; i++) {
        keys[i] = entryPrefix + new String(batch.get(i), StandardCharsets.UTF_8);
      }
      for (KeyValue<String, byte[]> kv : call(commands().mget(keys), "read the entries")) {
        Value value = kv.hasValue() ? live(kv.getValue(), now, grace) : null;
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
   * script writes, and would invalidate the writer's own front tier. So a put is two commands, and
   * another JVM's clear can run between them: the SET goes first, as a remove's ZREM does, so the
   * clear either finds the member and its entry or neither, and never leaves an entry outside the
   * index, where no later clear would find it. (The other order left one whenever a clear came
   * between.) Only a connection lost between the two, microseconds apart, leaves an unindexed entry,
   * which then lives out its PX.
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
    RedisFuture<String> stored = c.set(entryPrefix + key, value, SetArgs.Builder.px(px()));
    betweenCommands.accept(stored);
    RedisFuture<Object> indexed = c.evalsha(INDEX_SHA, ScriptOutputType.INTEGER, new String[] {indexKey},
        ascii(now), ascii(deadline), utf8(key), ascii(px()), utf8(entryPrefix));
    return track(key, e, deadline, both(stored, indexed));
  }

  @Override
  public Write remove(String key) {
    long e = epoch.get();
    RedisAsyncCommands<String, byte[]> c = commands();
    RedisFuture<Long> unindexed = c.zrem(indexKey, utf8(key)); // first: see put
    betweenCommands.accept(unindexed);
    RedisFuture<Long> deleted = c.del(entryPrefix + key);
    return track(key, e, clock.millis() + ttlMillis, both(unindexed, deleted));
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

  /**
   * The TTL plus the stale grace: Redis keeps a value until stale-if-error may no longer serve it.
   * PX must be positive; a TTL of zero or less still gives deadlines in the past, which reads honour.
   */
  private long px() {
    return Math.max(1, ttlMillis + graceMillis);
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
    client.removeListener(lossListener);
    if (probes != null) {
      probes.cancel(false);
    }
    connection.closeAsync(); // the client is shared and stays
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
