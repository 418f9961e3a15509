package io.tiercache.jcache;

import io.tiercache.Durability;
import io.tiercache.StoreSpec;
import java.nio.file.Path;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import javax.cache.configuration.CacheEntryListenerConfiguration;
import javax.cache.configuration.CompleteConfiguration;
import javax.cache.configuration.Factory;
import javax.cache.configuration.MutableConfiguration;
import javax.cache.expiry.ExpiryPolicy;
import javax.cache.integration.CacheLoader;
import javax.cache.integration.CacheWriter;
import org.jspecify.annotations.Nullable;

/**
 * A JCache {@link MutableConfiguration} plus where tiercache keeps the cache: the store (JSON
 * files, Chronicle Map or Redis), the durability of writes, the directory, and how many entries
 * this JVM keeps decoded in memory. Whatever is not
 * set here comes from the cache manager (its URI names the directory; its properties, or the
 * JVM's system properties of the same names, choose the store and the durability; see
 * {@link TieredCachingProvider}). A plain {@code MutableConfiguration} takes everything from the
 * cache manager.
 *
 * <pre>{@code
 * CacheManager manager = Caching.getCachingProvider(TieredCachingProvider.class.getName())
 *     .getCacheManager(Path.of("/var/cache/myapp").toUri(), null);
 * Cache<String, Model> models = manager.createCache("models", new TieredConfiguration<String, Model>()
 *     .setStore(StoreSpec.chronicleMap(100_000, 2_048))
 *     .setDurability(Durability.FSYNC)
 *     .setTypes(String.class, Model.class)
 *     .setExpiryPolicyFactory(AccessedExpiryPolicy.factoryOf(new Duration(TimeUnit.HOURS, 1))));
 * }</pre>
 *
 * @param <K> the key type
 * @param <V> the value type
 */
public final class TieredConfiguration<K, V> extends MutableConfiguration<K, V> {
  private static final long serialVersionUID = 1L;

  private @Nullable StoreSpec store;
  private @Nullable Durability durability;
  private @Nullable Path directory;
  private long frontTierMaximumSize = -1;

  public TieredConfiguration() {}

  /** A copy of {@code configuration}, with its tiercache settings when it has them. */
  public TieredConfiguration(CompleteConfiguration<K, V> configuration) {
    super(configuration);
    if (configuration instanceof TieredConfiguration<K, V> tiered) {
      this.store = tiered.store;
      this.durability = tiered.durability;
      this.directory = tiered.directory;
      this.frontTierMaximumSize = tiered.frontTierMaximumSize;
    }
  }

  /** The store; default: the cache manager's ({@link StoreSpec#jsonFiles()} unless it says otherwise). */
  public TieredConfiguration<K, V> setStore(StoreSpec store) {
    this.store = Objects.requireNonNull(store, "store");
    return this;
  }

  public Optional<StoreSpec> getStore() {
    return Optional.ofNullable(store);
  }

  /** When writes return; default: the cache manager's ({@link Durability#WRITE} unless it says otherwise). */
  public TieredConfiguration<K, V> setDurability(Durability durability) {
    this.durability = Objects.requireNonNull(durability, "durability");
    return this;
  }

  public Optional<Durability> getDurability() {
    return Optional.ofNullable(durability);
  }

  /** The directory of this cache's files; default: the one the cache manager's URI names. */
  public TieredConfiguration<K, V> setDirectory(Path directory) {
    this.directory = Objects.requireNonNull(directory, "directory");
    return this;
  }

  public Optional<Path> getDirectory() {
    return Optional.ofNullable(directory);
  }

  /**
   * Bounds the entries this JVM keeps decoded in memory (the front tier); the store keeps every
   * entry whatever this says. Default: unbounded.
   */
  public TieredConfiguration<K, V> setFrontTierMaximumSize(long entries) {
    if (entries < 0) {
      throw new IllegalArgumentException("the front tier's maximum size must not be negative: " + entries);
    }
    this.frontTierMaximumSize = entries;
    return this;
  }

  public OptionalLong getFrontTierMaximumSize() {
    return frontTierMaximumSize < 0 ? OptionalLong.empty() : OptionalLong.of(frontTierMaximumSize);
  }

  // MutableConfiguration's setters, returning this type so that calls chain in any order.

  @Override
  public TieredConfiguration<K, V> setTypes(Class<K> keyType, Class<V> valueType) {
    super.setTypes(keyType, valueType);
    return this;
  }

  @Override
  public TieredConfiguration<K, V> addCacheEntryListenerConfiguration(CacheEntryListenerConfiguration<K, V> listener) {
    super.addCacheEntryListenerConfiguration(listener);
    return this;
  }

  @Override
  public TieredConfiguration<K, V> removeCacheEntryListenerConfiguration(
      CacheEntryListenerConfiguration<K, V> listener) {
    super.removeCacheEntryListenerConfiguration(listener);
    return this;
  }

  @Override
  public TieredConfiguration<K, V> setCacheLoaderFactory(Factory<? extends CacheLoader<K, V>> factory) {
    super.setCacheLoaderFactory(factory);
    return this;
  }

  @Override
  public TieredConfiguration<K, V> setCacheWriterFactory(Factory<? extends CacheWriter<? super K, ? super V>> factory) {
    super.setCacheWriterFactory(factory);
    return this;
  }

  @Override
  public TieredConfiguration<K, V> setExpiryPolicyFactory(Factory<? extends ExpiryPolicy> factory) {
    super.setExpiryPolicyFactory(factory);
    return this;
  }

  @Override
  public TieredConfiguration<K, V> setReadThrough(boolean readThrough) {
    super.setReadThrough(readThrough);
    return this;
  }

  @Override
  public TieredConfiguration<K, V> setWriteThrough(boolean writeThrough) {
    super.setWriteThrough(writeThrough);
    return this;
  }

  /** Only {@code true} is supported: a persistent cache stores values by value. */
  @Override
  public TieredConfiguration<K, V> setStoreByValue(boolean storeByValue) {
    super.setStoreByValue(storeByValue);
    return this;
  }

  @Override
  public TieredConfiguration<K, V> setStatisticsEnabled(boolean enabled) {
    super.setStatisticsEnabled(enabled);
    return this;
  }

  @Override
  public TieredConfiguration<K, V> setManagementEnabled(boolean enabled) {
    super.setManagementEnabled(enabled);
    return this;
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof TieredConfiguration<?, ?> other && super.equals(o) && Objects.equals(store, other.store)
        && durability == other.durability && Objects.equals(directory, other.directory)
        && frontTierMaximumSize == other.frontTierMaximumSize;
  }

  @Override
  public int hashCode() {
    return Objects.hash(super.hashCode(), store, durability, directory, frontTierMaximumSize);
  }
}
