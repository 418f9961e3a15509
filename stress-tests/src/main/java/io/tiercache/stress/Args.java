package io.tiercache.stress;

import io.tiercache.StoreSpec;
import io.tiercache.TieredCacheBuilder;

/** Argument types the harnesses share (their command lines are picocli's, see {@link Cli}). */
public final class Args {
  private Args() {}

  /** {@code --store json|chronicle}: the persistent store the harness and its children open. */
  public enum Store {
    JSON,
    /** Sized for the long runs: 32k ids (16 x 2,000), or 600k in 200 kill rounds of {@link Crash#IDS_PER_ROUND}. */
    CHRONICLE;

    public <K, V> TieredCacheBuilder<K, V> select(TieredCacheBuilder<K, V> builder) {
      return this == CHRONICLE ? builder.store(StoreSpec.chronicleMap(700_000, 200)) : builder;
    }

    public String option() {
      return name().toLowerCase(java.util.Locale.ROOT);
    }
  }
}
