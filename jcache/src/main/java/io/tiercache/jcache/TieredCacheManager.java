package io.tiercache.jcache;

import io.tiercache.Durability;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import io.tiercache.TieredCacheBuilder;
import java.lang.System.Logger.Level;
import java.lang.ref.WeakReference;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Properties;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.LongSupplier;
import javax.cache.Cache;
import javax.cache.CacheException;
import javax.cache.CacheManager;
import javax.cache.configuration.CompleteConfiguration;
import javax.cache.configuration.Configuration;
import javax.cache.spi.CachingProvider;
import org.jspecify.annotations.Nullable;

/**
 * A JCache {@link CacheManager} whose URI names a directory: each cache it creates is a tiercache
 * {@link TieredCache} there (for the JSON store, {@code <name>.json}, {@code .journal} and
 * {@code .lock}), and creating a cache that other processes or earlier runs created opens their
 * content. {@link #destroyCache} empties the cache for every process that shares it.
 */
final class TieredCacheManager implements CacheManager {
  private static final System.Logger LOG = System.getLogger(TieredCacheManager.class.getName());
  /**
   * The store's own expiry, far enough never to matter: JCache entries expire by the deadline in
   * their envelope, which the expiry policy sets.
   */
  static final Duration STORE_EXPIRY = Duration.ofDays(100 * 365);

  private final TieredCachingProvider provider;
  private final URI uri;
  private final Path directory;
  private final WeakReference<ClassLoader> classLoader;
  private final Properties properties;
  private final Executor deliveries;
  private final Executor loads;
  private final ConcurrentHashMap<String, TieredJCache<?, ?>> caches = new ConcurrentHashMap<>();
  /** The time of the caches' deadlines, epoch milliseconds. For tests. */
  LongSupplier clock = System::currentTimeMillis;
  private volatile boolean closed;

  TieredCacheManager(TieredCachingProvider provider, URI uri, ClassLoader classLoader, Properties properties,
      Executor deliveries, Executor loads) {
    this.provider = provider;
    this.uri = uri;
    this.directory = directoryOf(uri);
    this.classLoader = new WeakReference<>(classLoader);
    this.properties = properties;
    this.deliveries = deliveries;
    this.loads = loads;
  }

  /**
   * The directory a cache manager URI names: a {@code file:} URI, or a path (relative to the
   * working directory) without a scheme.
   */
  static Path directoryOf(URI uri) {
    if ("file".equalsIgnoreCase(uri.getScheme())) {
      return Path.of(uri);
    }
    if (uri.getScheme() == null && uri.getPath() != null && !uri.getPath().isEmpty()) {
      return Path.of(uri.getPath());
    }
    throw new IllegalArgumentException("a tiercache cache manager URI names a directory (file:/var/cache/app, "
        + "or a path): " + uri);
  }

  @Override
  public CachingProvider getCachingProvider() {
    return provider;
  }

  @Override
  public URI getURI() {
    return uri;
  }

  @Override
  public ClassLoader getClassLoader() {
    ClassLoader loader = classLoader.get();
    return loader != null ? loader : provider.getDefaultClassLoader();
  }

  @Override
  public Properties getProperties() {
    return properties;
  }

  @Override
  public <K, V, C extends Configuration<K, V>> Cache<K, V> createCache(String cacheName, C configuration) {
    Objects.requireNonNull(cacheName, "cacheName");
    Objects.requireNonNull(configuration, "configuration");
    synchronized (caches) {
      requireOpen();
      if (caches.containsKey(cacheName)) {
        throw new CacheException("the cache " + cacheName + " already exists in " + uri);
      }
      TieredConfiguration<K, V> copy = copyOf(configuration);
      if (!copy.isStoreByValue()) {
        throw new UnsupportedOperationException("store by reference is not supported (the cache " + cacheName
            + "): a persistent cache stores values by value");
      }
      TieredCache<String, Stored> tiered = open(cacheName, copy);
      TieredJCache<K, V> cache = new TieredJCache<>(cacheName, this, copy, tiered, deliveries, loads, clock);
      caches.put(cacheName, cache);
      try {
        cache.enableManagement(copy.isManagementEnabled());
        cache.enableStatistics(copy.isStatisticsEnabled());
      } catch (RuntimeException e) {
        cache.close();
        throw e;
      }
      return cache;
    }
  }

  @SuppressWarnings("unchecked")
  private static <K, V> TieredConfiguration<K, V> copyOf(Configuration<K, V> configuration) {
    if (configuration instanceof CompleteConfiguration<K, V> complete) {
      return new TieredConfiguration<>(complete);
    }
    TieredConfiguration<K, V> copy = new TieredConfiguration<>();
    copy.setTypes(configuration.getKeyType(), configuration.getValueType());
    copy.setStoreByValue(configuration.isStoreByValue());
    return copy;
  }

  private TieredCache<String, Stored> open(String cacheName, TieredConfiguration<?, ?> configuration) {
    Settings settings = new Settings(properties);
    try {
      TieredCacheBuilder<String, Stored> builder = TieredCache.builder(String.class, Stored.class);
      configuration.getFrontTierMaximumSize().ifPresent(builder::maximumSize);
      return builder
          .store(configuration.getStore().orElseGet(settings::store))
          .durability(configuration.getDurability().orElseGet(settings::durability))
          .directory(configuration.getDirectory().orElse(directory))
          .name(fileName(cacheName))
          .expireAfter(STORE_EXPIRY)
          .codec(Stored.codec())
          .build();
    } catch (io.tiercache.CacheException e) {
      throw new CacheException("cannot open the cache " + cacheName + ": " + e.getMessage(), e);
    }
  }

  @Override
  public <K, V> @Nullable Cache<K, V> getCache(String cacheName, Class<K> keyType, Class<V> valueType) {
    Objects.requireNonNull(keyType, "keyType");
    Objects.requireNonNull(valueType, "valueType");
    Cache<K, V> cache = getCache(cacheName);
    if (cache == null) {
      return null;
    }
    @SuppressWarnings("unchecked")
    CompleteConfiguration<K, V> configuration = cache.getConfiguration(CompleteConfiguration.class);
    if (configuration.getKeyType() != keyType || configuration.getValueType() != valueType) {
      throw new ClassCastException("the cache " + cacheName + " holds " + configuration.getKeyType().getName()
          + " -> " + configuration.getValueType().getName() + ", not " + keyType.getName() + " -> "
          + valueType.getName());
    }
    return cache;
  }

  @Override
  @SuppressWarnings("unchecked")
  public <K, V> @Nullable Cache<K, V> getCache(String cacheName) {
    Objects.requireNonNull(cacheName, "cacheName");
    requireOpen();
    return (Cache<K, V>) caches.get(cacheName);
  }

  @Override
  public Iterable<String> getCacheNames() {
    requireOpen();
    return List.copyOf(caches.keySet());
  }

  /** Empties the cache (for every process that shares it) and closes it. */
  @Override
  public void destroyCache(String cacheName) {
    Objects.requireNonNull(cacheName, "cacheName");
    requireOpen();
    TieredJCache<?, ?> cache = caches.get(cacheName);
    if (cache != null) {
      try {
        cache.clear();
      } finally {
        cache.close();
      }
    }
  }

  /** Called by a cache that closes. */
  void forget(String cacheName, TieredJCache<?, ?> cache) {
    caches.remove(cacheName, cache);
  }

  @Override
  public void enableManagement(String cacheName, boolean enabled) {
    Objects.requireNonNull(cacheName, "cacheName");
    requireOpen();
    TieredJCache<?, ?> cache = caches.get(cacheName);
    if (cache != null) {
      cache.enableManagement(enabled);
    }
  }

  @Override
  public void enableStatistics(String cacheName, boolean enabled) {
    Objects.requireNonNull(cacheName, "cacheName");
    requireOpen();
    TieredJCache<?, ?> cache = caches.get(cacheName);
    if (cache != null) {
      cache.enableStatistics(enabled);
    }
  }

  /** Closes every cache (each flushes its files); their content stays for the next open. */
  @Override
  public void close() {
    synchronized (caches) {
      if (closed) {
        return;
      }
      for (TieredJCache<?, ?> cache : List.copyOf(caches.values())) {
        try {
          cache.close();
        } catch (RuntimeException e) {
          LOG.log(Level.WARNING, "tiercache: closing the JCache cache " + cache.getName() + " failed", e);
        }
      }
      closed = true;
    }
    provider.release(this);
  }

  @Override
  public boolean isClosed() {
    return closed;
  }

  @Override
  public <T> T unwrap(Class<T> clazz) {
    if (clazz.isInstance(this)) {
      return clazz.cast(this);
    }
    throw new IllegalArgumentException("cannot unwrap a tiercache cache manager to " + clazz.getName());
  }

  private void requireOpen() {
    if (closed) {
      throw new IllegalStateException("the cache manager " + uri + " is closed");
    }
  }

  /**
   * The base name of a cache's files: the cache name where it is a safe file name, letters,
   * digits and {@code . _ - @ + = ,} kept and every other byte of its UTF-8 as {@code %XX} (a
   * {@code .} that starts the name or follows another too); a long name is cut and ends with a
   * hash of the whole.
   */
  static String fileName(String cacheName) {
    StringBuilder s = new StringBuilder();
    byte[] utf8 = cacheName.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < utf8.length; i++) {
      int b = utf8[i] & 0xff;
      boolean plain = (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
          || "_-@+=,".indexOf(b) >= 0 || (b == '.' && i > 0 && utf8[i - 1] != '.');
      if (plain) {
        s.append((char) b);
      } else {
        s.append('%').append(String.format(Locale.ROOT, "%02X", b));
      }
    }
    if (s.isEmpty()) {
      return "%"; // the empty name
    }
    if (s.length() <= 150) {
      return s.toString();
    }
    try {
      byte[] hash = MessageDigest.getInstance("SHA-256").digest(utf8);
      return s.substring(0, 120) + "~" + HexFormat.of().formatHex(hash, 0, 8);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * The manager's defaults for caches that do not choose: its properties, else the JVM's system
   * properties of the same names.
   */
  private record Settings(Properties properties) {
    String get(String key, String otherwise) {
      String value = properties.getProperty(key);
      return value != null ? value.trim() : System.getProperty(key, otherwise).trim();
    }

    StoreSpec store() {
      String store = get(TieredCachingProvider.STORE, "json-files");
      return switch (store) {
        case "json-files" -> StoreSpec.jsonFiles();
        case "chronicle-map" -> StoreSpec.chronicleMap(
            number(TieredCachingProvider.CHRONICLE_ENTRIES, "100000"),
            (int) number(TieredCachingProvider.CHRONICLE_AVERAGE_VALUE_BYTES, "1024"));
        case "redis" -> {
          String redisUri = get(TieredCachingProvider.REDIS_URI, "");
          if (redisUri.isEmpty()) {
            throw new IllegalArgumentException(TieredCachingProvider.STORE + "=redis needs "
                + TieredCachingProvider.REDIS_URI + " (redis://host:6379/0)");
          }
          yield StoreSpec.redis(URI.create(redisUri));
        }
        default -> throw new IllegalArgumentException(TieredCachingProvider.STORE + " must be json-files, "
            + "chronicle-map or redis, not '" + store + "'");
      };
    }

    Durability durability() {
      String durability = get(TieredCachingProvider.DURABILITY, "WRITE");
      try {
        return Durability.valueOf(durability.toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(TieredCachingProvider.DURABILITY + " must be ASYNC, WRITE or FSYNC, not '"
            + durability + "'", e);
      }
    }

    private long number(String key, String otherwise) {
      String value = get(key, otherwise);
      try {
        return Long.parseLong(value);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(key + " must be a number, not '" + value + "'", e);
      }
    }
  }
}
