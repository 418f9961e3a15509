package io.tiercache;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/** Opens one kind of persistent store; one implementation per {@link StoreSpec} record. */
interface StoreProvider {

  static StoreProvider of(StoreSpec spec) {
    if (spec instanceof StoreSpec.JsonFiles) {
      return JsonFileStore.PROVIDER;
    } else if (spec instanceof StoreSpec.ChronicleMap) {
      return ChronicleSupport.PROVIDER;
    } else if (spec instanceof StoreSpec.Redis) {
      return RedisSupport.PROVIDER;
    }
    throw new AssertionError(spec);
  }

  /**
   * What two opens must share to share one open store: a canonical file path, or a server address
   * with the cache name. Creates the directory of file stores.
   */
  Object location(StoreConfig config);

  /** Opens the store; called once per location while the registry holds it open. */
  PersistentStore open(StoreConfig config);

  /** The file that holds the content, for {@link AssetCache#cacheFile()}; null for a server. */
  @Nullable Path file(StoreConfig config);
}
