package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;

/** The behavioural contract on the Chronicle Map store. */
class ChronicleStoreContractTest extends LoadingContractTest {
  @Override
  protected <K, V> TieredCacheBuilder<K, V> configure(TieredCacheBuilder<K, V> builder) {
    return builder.store(StoreSpec.chronicleMap(20_000, 256));
  }

  @Override
  protected void assertCacheFiles(AssetCache<?> models) {
    assertThat(models.cacheFile()).isEqualTo(dir.resolve("model.cmap"));
    assertThat(models.lockFile()).isEqualTo(dir.resolve("model.lock"));
  }
}
