package io.tiercache.jcache;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.net.URI;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.WeakHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import javax.cache.CacheManager;
import javax.cache.configuration.OptionalFeature;
import javax.cache.spi.CachingProvider;
import org.jspecify.annotations.Nullable;

/**
 * tiercache's JCache (JSR-107) provider: persistent caches, shared by the processes of a host (the
 * JSON files and Chronicle Map stores) or by the JVMs of many machines (Redis), that survive
 * restarts. Registered through {@code META-INF/services}; pick it by name when several providers
 * are on the class path:
 *
 * <pre>{@code
 * CachingProvider provider = Caching.getCachingProvider("io.tiercache.jcache.TieredCachingProvider");
 * CacheManager manager = provider.getCacheManager(Path.of("/var/cache/myapp").toUri(), null);
 * Cache<String, Model> models = manager.createCache("models",
 *     new MutableConfiguration<String, Model>().setTypes(String.class, Model.class));
 * }</pre>
 *
 * A cache manager's URI names the directory of its caches' files; the default is
 * {@code ./.cache/jcache}, or the {@value #DIRECTORY} system property. A cache whose configuration
 * is not a {@link TieredConfiguration} (or leaves the store unset) uses the manager's store, chosen
 * by these properties (the manager's properties, else the system properties of the same names):
 * <ul>
 *   <li>{@value #STORE}: {@code json-files} (the default), {@code chronicle-map} or {@code redis};
 *   <li>{@value #CHRONICLE_ENTRIES} and {@value #CHRONICLE_AVERAGE_VALUE_BYTES}: the Chronicle Map
 *       file's sizes (default 100000 entries of 1024 bytes);
 *   <li>{@value #REDIS_URI}: the Redis server, for {@code redis};
 *   <li>{@value #DURABILITY}: {@code ASYNC}, {@code WRITE} (the default) or {@code FSYNC}.
 * </ul>
 * Store by reference is not supported.
 */
public final class TieredCachingProvider implements CachingProvider {
  /** The system property naming the default cache manager's directory. */
  public static final String DIRECTORY = "tiercache.jcache.directory";
  public static final String STORE = "tiercache.jcache.store";
  public static final String CHRONICLE_ENTRIES = "tiercache.jcache.chronicle.entries";
  public static final String CHRONICLE_AVERAGE_VALUE_BYTES = "tiercache.jcache.chronicle.averageValueBytes";
  public static final String REDIS_URI = "tiercache.jcache.redis.uri";
  public static final String DURABILITY = "tiercache.jcache.durability";

  /**
   * Delivers every cache's events: daemon threads, started as work comes (up to {@value #THREADS},
   * so that a few blocking listeners do not hold up the others) and ended after a minute idle.
   */
  private static final ExecutorService DELIVERIES = deliveries();

  private static final int THREADS = 16;

  /**
   * Runs {@code loadAll}, which waits for its synchronous listeners' deliveries: a pool apart, so
   * that loads cannot take every delivery thread. Threads are made per concurrent call, as loads
   * are the callers' own, and end after a minute idle.
   */
  private static final ExecutorService LOADS = new ThreadPoolExecutor(0, Integer.MAX_VALUE, 60, TimeUnit.SECONDS,
      new SynchronousQueue<>(), new DaemonThreads("tiercache-jcache-load-"));

  private static ExecutorService deliveries() {
    ThreadPoolExecutor executor = new ThreadPoolExecutor(THREADS, THREADS, 60, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), new DaemonThreads("tiercache-jcache-events-"));
    executor.allowCoreThreadTimeOut(true);
    return executor;
  }

  @GuardedBy("managers")
  private final Map<ClassLoader, Map<URI, TieredCacheManager>> managers = new WeakHashMap<>();

  @Override
  public ClassLoader getDefaultClassLoader() {
    ClassLoader loader = Thread.currentThread().getContextClassLoader();
    return loader != null ? loader : TieredCachingProvider.class.getClassLoader();
  }

  /** {@code ./.cache/jcache}, or the directory the {@value #DIRECTORY} system property names, as a URI. */
  @Override
  public URI getDefaultURI() {
    Path directory = Path.of(System.getProperty(DIRECTORY, ".cache/jcache")).toAbsolutePath().normalize();
    String uri = directory.toUri().toString();
    return URI.create(uri.endsWith("/") ? uri : uri + "/"); // the same whether the directory exists yet or not
  }

  @Override
  public Properties getDefaultProperties() {
    return new Properties();
  }

  @Override
  public CacheManager getCacheManager(@Nullable URI uri, @Nullable ClassLoader classLoader,
      @Nullable Properties properties) {
    URI managerUri = uri != null ? uri : getDefaultURI();
    ClassLoader managerLoader = classLoader != null ? classLoader : getDefaultClassLoader();
    TieredCacheManager.directoryOf(managerUri); // a clear error for a URI that names no directory
    synchronized (managers) {
      return managers.computeIfAbsent(managerLoader, any -> new HashMap<>()).computeIfAbsent(managerUri,
          any -> new TieredCacheManager(this, managerUri, managerLoader,
              properties != null ? properties : getDefaultProperties(), DELIVERIES, LOADS));
    }
  }

  @Override
  public CacheManager getCacheManager(@Nullable URI uri, @Nullable ClassLoader classLoader) {
    return getCacheManager(uri, classLoader, getDefaultProperties());
  }

  @Override
  public CacheManager getCacheManager() {
    return getCacheManager(getDefaultURI(), getDefaultClassLoader());
  }

  @Override
  public void close() {
    List<TieredCacheManager> all;
    synchronized (managers) {
      all = managers.values().stream().flatMap(m -> m.values().stream()).toList();
    }
    all.forEach(TieredCacheManager::close);
  }

  @Override
  public void close(@Nullable ClassLoader classLoader) {
    ClassLoader managerLoader = classLoader != null ? classLoader : getDefaultClassLoader();
    List<TieredCacheManager> closing;
    synchronized (managers) {
      Map<URI, TieredCacheManager> byUri = managers.get(managerLoader);
      closing = byUri == null ? List.of() : List.copyOf(byUri.values());
    }
    closing.forEach(TieredCacheManager::close);
  }

  @Override
  public void close(@Nullable URI uri, @Nullable ClassLoader classLoader) {
    ClassLoader managerLoader = classLoader != null ? classLoader : getDefaultClassLoader();
    TieredCacheManager manager;
    synchronized (managers) {
      Map<URI, TieredCacheManager> byUri = managers.get(managerLoader);
      manager = byUri == null ? null : byUri.get(uri != null ? uri : getDefaultURI());
    }
    if (manager != null) {
      manager.close();
    }
  }

  /** Forgets a manager that closed: the next request for its URI and class loader gets a new one. */
  void release(TieredCacheManager manager) {
    synchronized (managers) {
      Map<URI, TieredCacheManager> byUri = managers.get(manager.getClassLoader());
      if (byUri != null && byUri.get(manager.getURI()) == manager) {
        byUri.remove(manager.getURI());
        if (byUri.isEmpty()) {
          managers.remove(manager.getClassLoader());
        }
      }
    }
  }

  /** Store by reference is not: every store keeps encoded values. */
  @Override
  public boolean isSupported(OptionalFeature feature) {
    return false;
  }

  private static final class DaemonThreads implements java.util.concurrent.ThreadFactory {
    private final AtomicInteger count = new AtomicInteger();
    private final String prefix;

    DaemonThreads(String prefix) {
      this.prefix = prefix;
    }

    @Override
    public Thread newThread(Runnable task) {
      Thread thread = new Thread(task, prefix + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    }
  }
}
