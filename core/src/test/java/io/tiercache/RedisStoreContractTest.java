package io.tiercache;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

/** The behavioural contract on the Redis store, against a real redis-server. */
class RedisStoreContractTest extends LoadingContractTest {
  static RedisServer server;

  @BeforeAll
  static void startServer() throws Exception {
    server = RedisServer.start();
  }

  @AfterAll
  static void stopServer() throws Exception {
    server.close();
  }

  /** The suite reuses cache names from test to test, as it reuses a fresh directory. */
  @BeforeEach
  void emptyServer() throws Exception {
    server.flushAll();
  }

  @Override
  protected <K, V> TieredCacheBuilder<K, V> configure(TieredCacheBuilder<K, V> builder) {
    return builder.store(StoreSpec.redis(server.uri()));
  }

  @Override
  protected boolean readsAreLocal() {
    return false;
  }

  @Override
  protected void assertCacheFiles(AssetCache<?> models) {
    assertThatThrownBy(models::cacheFile).isInstanceOf(UnsupportedOperationException.class)
        .hasMessageContaining("Redis at " + server.uri() + "#model");
    assertThatThrownBy(models::lockFile).isInstanceOf(UnsupportedOperationException.class);
  }
}
