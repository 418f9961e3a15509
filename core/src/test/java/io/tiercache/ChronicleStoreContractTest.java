package io.tiercache;

/** The behavioural contract on the Chronicle Map store. */
class ChronicleStoreContractTest extends CacheContractTest {
  @Override
  protected <K, V> TieredCacheBuilder<K, V> configure(TieredCacheBuilder<K, V> builder) {
    return builder.chronicleMap(20_000, 256);
  }

  @Override
  protected String contentFile(String name) {
    return name + ".cmap";
  }
}
