package io.tiercache;

/**
 * Which persistent store a builder opens. Each store has one constant; the builders' store
 * methods ({@code chronicleMap}, {@code redis}) select it, JSON files being the default.
 */
interface StoreType {
  /**
   * What two opens must share to share one open store: a canonical file path, or a server
   * address with the cache name. Creates the directory of file stores.
   */
  Object location(StoreSettings settings);

  /** Opens the store; called once per location while the registry holds it open. */
  PersistentStore open(StoreSettings settings);

  /** The file that holds the content, for {@link AssetCache#cacheFile()}. */
  default java.nio.file.Path file(StoreSettings settings) {
    return settings.snapshotFile();
  }

  /** The settings a second open of the same location must repeat, for the error that says it did not. */
  String describe(StoreSettings settings);
}
