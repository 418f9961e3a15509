package io.tiercache;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.RecordComponent;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The Python SDK's {@code AssetCache} in Java: assets (models, pipelines, agents, ...) by id,
 * kept in {@code .cache/<name>.json} in the same format, so Java and Python processes can share
 * one cache directory.
 *
 * <pre>{@code
 * AssetCache<Model> models = AssetCache.open(Model.class);   // .cache/model.json
 * Model m = models.get("abc");                                // null when absent or expired
 * if (m == null) {
 *   m = api.fetchModel("abc");
 *   models.add(m);                                            // on disk when add returns
 * }
 *
 * // the SDK's cache-aside with a full refresh, once per expiry:
 * List<Model> all = models.getAll(() -> api.listModels());
 * }</pre>
 *
 * Unlike the Python version it is safe under threads and processes: an {@code add} appends one
 * journal line (O(1)), no process overwrites another's changes, the files are replaced
 * atomically, a damaged file is moved aside rather than deleted, and no call returns an asset
 * past its expiry. Opening is cheap when the same file is already open in this JVM.
 *
 * <p>Thread-safe. Ids are never null; {@code get} returns null for absent ids.
 *
 * @param <T> the asset type: a record or a class with a no-argument constructor
 */
public final class AssetCache<T> implements AutoCloseable {
  private final TieredCache<String, T> cache;
  private final Function<? super T, String> idFunction;
  private final Class<T> type;
  private final Duration expireAfter;
  private final Clock clock;
  private final @Nullable Path cacheFile;
  private final @Nullable Path lockFile;
  private final String location;

  private AssetCache(Class<T> type, @Nullable Function<? super T, String> idFunction, CacheConfig<String, T> config) {
    this.type = type;
    this.idFunction = idFunction != null ? idFunction : idAccessor(type);
    this.cache = Registry.open(config);
    StoreConfig store = config.store();
    this.expireAfter = store.expireAfter();
    this.clock = store.clock();
    this.cacheFile = store.provider().file(store);
    this.lockFile = cacheFile != null ? store.files().lock() : null;
    this.location = ((CacheHandle<?, ?>) cache).location().toString();
  }

  /** Opens {@code .cache/<lower-case simple name of type>.json} under the current directory. */
  public static <T> AssetCache<T> open(Class<T> type) {
    return builder(type).build();
  }

  /** Opens {@code .cache/<cacheFilename>.json} under the current directory. */
  public static <T> AssetCache<T> open(Class<T> type, String cacheFilename) {
    return builder(type).cacheFilename(cacheFilename).build();
  }

  public static <T> Builder<T> builder(Class<T> type) {
    return new Builder<>(type);
  }

  /** The cached content as the Python SDK's {@code Store}: the assets by id, and the expiry. */
  public record Store<T>(Map<String, T> data, Instant expiry) {
    public Store {
      data = Collections.unmodifiableMap(new LinkedHashMap<>(data));
      Objects.requireNonNull(expiry, "expiry");
    }
  }

  /** The asset with this id, or null when absent or expired. */
  public @Nullable T get(String id) {
    return cache.getIfPresent(Objects.requireNonNull(id, "id"));
  }

  /**
   * The asset with this id, fetched by {@code loader} and added when the cache has none.
   * Concurrent calls for one id in this JVM fetch once.
   */
  public @Nullable T get(String id, Function<String, ? extends @Nullable T> loader) {
    return cache.get(Objects.requireNonNull(id, "id"), loader);
  }

  /** Stores the asset under its id; durable on return as the builder's {@link Durability} says. */
  public void add(T asset) {
    cache.put(idOf(asset), asset);
  }

  /** Replaces the whole content with {@code assets} and starts a new expiry period. */
  public void addList(Collection<? extends T> assets) {
    Map<String, T> byId = new LinkedHashMap<>(assets.size() * 4 / 3 + 1);
    for (T asset : assets) {
      byId.put(idOf(asset), asset);
    }
    cache.replaceAll(byId);
  }

  private String idOf(T asset) {
    Objects.requireNonNull(asset, "asset");
    String id = idFunction.apply(asset);
    if (id == null) {
      throw new IllegalArgumentException("a " + type.getName() + " asset has a null id: " + asset);
    }
    return id;
  }

  /** Every cached asset (an empty list when the content expired). */
  public List<T> getAll() {
    return new ArrayList<>(cache.asMap().values());
  }

  /**
   * Every cached asset; when the cache is not valid ({@link #hasValidCache()} is false) the whole
   * list is fetched once from {@code fetchAll} and stored with {@link #addList}, and that is
   * returned. Concurrent callers in this JVM wait for the one fetch, through this handle or any
   * other opened with the same settings.
   *
   * <p>With {@code staleIfError(grace)} on the builder, a {@code fetchAll} that throws while the
   * content expired less than {@code grace} ago returns the expired assets instead (one warning per
   * outage; {@code fetchAll} is tried again after a back-off, 1 s doubling to 1 min).
   */
  public List<T> getAll(Supplier<? extends Collection<? extends T>> fetchAll) {
    Objects.requireNonNull(fetchAll, "fetchAll");
    if (hasValidCache()) {
      return getAll();
    }
    LocalTieredCache<String, T> local = ((CacheHandle<String, T>) cache).cache();
    local.contentFetch.lock();
    try {
      if (!hasValidCache()) {
        List<T> stale = local.contentInBackoff() ? local.staleContent(null) : null;
        if (stale != null) {
          return stale;
        }
        Collection<? extends T> fresh;
        try {
          fresh = fetchAll.get();
        } catch (RuntimeException e) {
          stale = local.staleContent(e);
          if (stale == null) {
            throw e;
          }
          return stale;
        }
        addList(fresh);
        local.contentLoaded();
        return new ArrayList<>(fresh);
      }
    } finally {
      local.contentFetch.unlock();
    }
    return getAll();
  }

  /** True when the content has not expired and holds at least one asset. */
  public boolean hasValidCache() {
    return clock.instant().isBefore(cache.expiry()) && cache.estimatedSize() > 0;
  }

  /** Removes every asset and starts a new expiry period. The lock file is never deleted. */
  public void invalidate() {
    cache.invalidateAll();
  }

  /** Applies other processes' changes now (they also arrive within the refresh interval). */
  public void load() {
    cache.sync();
  }

  /** Makes everything durable and folds it into {@code <name>.json}, readable by the Python SDK. */
  public void save() {
    cache.flush();
  }

  /** The expiry a content started now would get: now plus the TTL. */
  public Instant computeExpiry() {
    return clock.instant().plus(expireAfter);
  }

  /** A copy of the content: every asset by id, and the expiry. */
  public Store<T> store() {
    Map<String, T> data = new LinkedHashMap<>();
    cache.asMap().forEach(data::put);
    return new Store<>(data, cache.expiry());
  }

  /**
   * {@code <directory>/<name>.json}.
   *
   * @throws UnsupportedOperationException on the Redis store, which keeps no files
   */
  public Path cacheFile() {
    return file(cacheFile);
  }

  /**
   * {@code <directory>/<name>.lock}.
   *
   * @throws UnsupportedOperationException on the Redis store, which keeps no files
   */
  public Path lockFile() {
    return file(lockFile);
  }

  private Path file(@Nullable Path file) {
    if (file == null) {
      throw new UnsupportedOperationException("this cache has no files: it lives in Redis at " + location);
    }
    return file;
  }

  /** The underlying two-tier cache, for the operations this class does not mirror. */
  public TieredCache<String, T> asTieredCache() {
    return cache;
  }

  /** Releases this handle; the last one open on the file folds the journal into the snapshot. */
  @Override
  public void close() {
    cache.close();
  }

  @Override
  public String toString() {
    return "AssetCache[" + (cacheFile != null ? cacheFile : location) + "]";
  }

  /** Built once per class: the SDK opens a cache per call, and reflection is not free. */
  private static final ClassValue<Function<Object, String>> ID_ACCESSORS = new ClassValue<>() {
    @Override
    protected Function<Object, String> computeValue(Class<?> type) {
      return buildIdAccessor(type);
    }
  };

  /** The default id: a record component, a getter ({@code id()}/{@code getId()}) or a field named {@code id}. */
  @SuppressWarnings("unchecked")
  static <T> Function<T, String> idAccessor(Class<T> type) {
    return (Function<T, String>) ID_ACCESSORS.get(type);
  }

  private static Function<Object, String> buildIdAccessor(Class<?> type) {
    MethodHandle getter = findIdGetter(type);
    if (getter == null) {
      throw new IllegalArgumentException(type.getName()
          + " has no record component, getter or field named 'id'; pass AssetCache.builder(...).idFunction(...)");
    }
    MethodHandle g = getter.asType(MethodType.methodType(Object.class, Object.class));
    return asset -> {
      Object id;
      try {
        id = g.invoke(asset);
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException("reading the id of " + type.getName() + " failed", t);
      }
      return id == null ? null : String.valueOf(id); // integer ids become strings, as in the seed
    };
  }

  private static MethodHandle findIdGetter(Class<?> type) {
    MethodHandles.Lookup lookup = MethodHandles.lookup();
    try {
      if (type.isRecord()) {
        for (RecordComponent c : type.getRecordComponents()) {
          if (c.getName().equals("id")) {
            Method m = c.getAccessor();
            m.setAccessible(true);
            return lookup.unreflect(m);
          }
        }
      }
      for (String name : new String[] {"getId", "id"}) {
        try {
          Method m = type.getMethod(name);
          if (!Modifier.isStatic(m.getModifiers()) && m.getReturnType() != void.class) {
            m.setAccessible(true);
            return lookup.unreflect(m);
          }
        } catch (NoSuchMethodException e) {
          // try the next form
        }
      }
      for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
        try {
          Field f = c.getDeclaredField("id");
          if (!Modifier.isStatic(f.getModifiers())) {
            f.setAccessible(true);
            return lookup.unreflectGetter(f);
          }
        } catch (NoSuchFieldException e) {
          // look in the superclass
        }
      }
    } catch (IllegalAccessException | RuntimeException e) {
      throw new IllegalArgumentException("cannot read the 'id' of " + type.getName() + ": " + e.getMessage(), e);
    }
    return null;
  }

  /**
   * Configures an {@link AssetCache}. Defaults match the Python SDK: directory {@code ./.cache},
   * file name the asset type's lower-case simple name, TTL from {@code CACHE_EXPIRY_TIME}. Every
   * other setting is the underlying {@link TieredCacheBuilder}'s, reached through {@link #configure}:
   *
   * <pre>{@code
   * AssetCache<Model> models = AssetCache.builder(Model.class)
   *     .cacheFilename("models")
   *     .configure(b -> b.directory(Path.of("/var/cache/app")).durability(Durability.FSYNC))
   *     .build();
   * }</pre>
   *
   * @param <T> the asset type
   */
  public static final class Builder<T> {
    private final Class<T> type;
    private final TieredCacheBuilder<String, T> tiered;
    private @Nullable Function<? super T, String> idFunction;

    Builder(Class<T> type) {
      this.type = Objects.requireNonNull(type, "type");
      this.tiered = TieredCache.builder(String.class, type);
    }

    /** The base name of the files ({@code <name>.json}), the Python SDK's {@code cache_filename}. */
    public Builder<T> cacheFilename(String name) {
      tiered.name(name);
      return this;
    }

    /** How an asset's id is read; default a record component, getter or field named {@code id}. */
    public Builder<T> idFunction(Function<? super T, String> idFunction) {
      this.idFunction = Objects.requireNonNull(idFunction, "idFunction");
      return this;
    }

    /**
     * Applies {@code settings} to the underlying cache's builder: the directory, expiry, durability,
     * store and every other setting of {@link TieredCacheBuilder}.
     */
    public Builder<T> configure(Consumer<? super TieredCacheBuilder<String, T>> settings) {
      Objects.requireNonNull(settings, "settings").accept(tiered);
      return this;
    }

    /**
     * Opens the cache, or shares the one already open on the same files in this JVM. The builder is
     * not changed, and later changes to it do not reach the cache.
     */
    public AssetCache<T> build() {
      return new AssetCache<>(type, idFunction, tiered.config());
    }
  }
}
