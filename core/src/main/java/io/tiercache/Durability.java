package io.tiercache;

/**
 * When a write to the persistent tier returns.
 *
 * <pre>{@code
 * AssetCache<Model> models = AssetCache.builder(Model.class).durability(Durability.FSYNC).build();
 * }</pre>
 */
public enum Durability {
  /**
   * Returns at once; the change reaches the journal file in the background within the
   * configured flush delay. A killed process may lose the changes of that window.
   */
  ASYNC,
  /**
   * Returns once the change is written to the journal file (the operating system has it): it
   * survives a killed process, not a power loss. The default.
   */
  WRITE,
  /**
   * Returns once the change is forced to the storage device: it survives a power loss.
   * Concurrent writers share one {@code fsync} (group commit).
   */
  FSYNC
}
