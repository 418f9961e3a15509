package io.tiercache;

import java.nio.file.Path;
import java.util.concurrent.ScheduledThreadPoolExecutor;

/**
 * The daemon threads that run every store's background work: one for the short tasks (refreshing
 * from other processes, flushing {@link Durability#ASYNC} writes, ending lock leases), one for
 * compaction, which renders a whole snapshot and would otherwise delay them. Daemons, so an
 * application that forgets {@code close()} still exits (its journal is intact; only compaction is
 * skipped).
 */
final class Maintenance {
  private static final System.Logger LOG = System.getLogger(Maintenance.class.getName());

  private Maintenance() {}

  static final ScheduledThreadPoolExecutor SCHEDULER = daemon("tiercache-maintenance");
  static final ScheduledThreadPoolExecutor COMPACTOR = daemon("tiercache-compaction");

  /**
   * Closes {@code file} on the compaction thread, after the work in progress there. Closing the last
   * descriptor of a file renamed over frees its blocks, ~10 ms per 30 MB on ext4: a compaction leaves
   * the old journal and export so, and must not spend that time under its locks. A failure is logged.
   */
  static void closeLater(AutoCloseable file, Path path) {
    COMPACTOR.execute(() -> {
      try {
        file.close();
      } catch (Exception e) {
        LOG.log(System.Logger.Level.WARNING, "tiercache: cannot close " + path, e);
      }
    });
  }

  private static ScheduledThreadPoolExecutor daemon(String name) {
    ScheduledThreadPoolExecutor executor = new ScheduledThreadPoolExecutor(1, runnable -> {
      Thread thread = new Thread(runnable, name);
      thread.setDaemon(true);
      return thread;
    });
    executor.setRemoveOnCancelPolicy(true);
    return executor;
  }
}
