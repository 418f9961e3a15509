package io.tiercache;

import java.time.Duration;

/** Store configurations the builders cannot make yet. */
final class TestConfigs {
  private TestConfigs() {}

  /** {@code config} with {@code grace} as its stale grace (the builder's {@code staleIfError} comes with issue 17). */
  static StoreConfig withGrace(StoreConfig config, Duration grace) {
    return new StoreConfig(config.spec(), config.files(), config.durability(), config.expireAfter(), grace,
        config.clock(), config.lockTimeout(), config.refreshInterval(), config.asyncFlushDelay(),
        config.compactionMinBytes(), config.fileOps());
  }
}
