package io.tiercache.jcache;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import javax.cache.CacheManager;
import javax.cache.Caching;

/** What the provider's tests share: managers on temporary directories, a clock to move, child JVMs. */
final class Fixtures {
  private Fixtures() {}

  static final String PROVIDER = TieredCachingProvider.class.getName();

  /** The manager properties that select {@code store}: json-files, chronicle-map, or redis:<uri>. */
  static Properties store(String store) {
    Properties properties = new Properties();
    if (store.startsWith("redis:")) {
      properties.setProperty(TieredCachingProvider.STORE, "redis");
      properties.setProperty(TieredCachingProvider.REDIS_URI, store.substring("redis:".length()));
    } else {
      properties.setProperty(TieredCachingProvider.STORE, store);
      properties.setProperty(TieredCachingProvider.CHRONICLE_ENTRIES, "1000");
      properties.setProperty(TieredCachingProvider.CHRONICLE_AVERAGE_VALUE_BYTES, "256");
    }
    return properties;
  }

  /** A new cache manager on {@code directory}, with {@code clock} for the entries' deadlines. */
  static CacheManager manager(Path directory, String store, LongSupplier clock) {
    CacheManager manager = Caching.getCachingProvider(PROVIDER)
        .getCacheManager(directory.toUri(), Fixtures.class.getClassLoader(), store(store));
    manager.unwrap(TieredCacheManager.class).clock = clock;
    return manager;
  }

  /** A time (epoch milliseconds) that tests move by hand, for the entries' deadlines. */
  static AtomicLong time() {
    return new AtomicLong(Instant.parse("2026-01-01T00:00:00Z").toEpochMilli());
  }

  /** The output and exit code of a child JVM. */
  record Child(int exitCode, String output) {}

  /**
   * Runs {@code main} in a child JVM with this JVM's class path and Chronicle Map flags, for at
   * most {@code timeout}; a child still running then is killed and the test fails.
   */
  static Child runJvm(Class<?> main, Duration timeout, String... args) throws IOException, InterruptedException {
    List<String> command = new ArrayList<>();
    command.add(ProcessHandle.current().info().command().orElse("java"));
    for (String flag : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
      if (flag.startsWith("--add-") || flag.startsWith("-Dchronicle.")) {
        command.add(flag);
      }
    }
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
    command.addAll(List.of(args));
    Path log = Files.createTempFile("tiercache-child", ".log");
    Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    try {
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(main.getSimpleName() + " did not finish in " + timeout + ": " + Files.readString(log));
      }
      return new Child(process.exitValue(), Files.readString(log, StandardCharsets.UTF_8));
    } finally {
      process.destroyForcibly();
      Files.deleteIfExists(log);
    }
  }

  /** A redis-server of its own on a free loopback port, without persistence; killed on close. */
  static final class Redis implements AutoCloseable {
    private final Process process;
    final URI uri;

    Redis() throws IOException, InterruptedException {
      int port;
      try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        port = probe.getLocalPort();
      }
      uri = URI.create("redis://127.0.0.1:" + port);
      process = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
          "--save", "", "--appendonly", "no").redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .start();
      long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (true) {
        try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
          return;
        } catch (IOException notYet) {
          if (!process.isAlive() || System.nanoTime() > giveUp) {
            process.destroyForcibly();
            throw new IOException("redis-server did not start on port " + port, notYet);
          }
          Thread.sleep(10);
        }
      }
    }

    @Override
    public void close() throws InterruptedException {
      process.destroyForcibly();
      process.waitFor(10, TimeUnit.SECONDS);
    }
  }
}
