package io.tiercache;

/** The behavioural contract on the default store: JSON snapshot + journal files. */
class JsonStoreContractTest extends LoadingContractTest {
  @Override
  protected <K, V> TieredCacheBuilder<K, V> configure(TieredCacheBuilder<K, V> builder) {
    return builder;
  }
}
