package io.tiercache;

import java.util.concurrent.ScheduledThreadPoolExecutor;

/**
 * The daemon threads that run every store's background work: one for the short tasks (refreshing
 * from other processes, flushing {@link Durability#ASYNC} writes, ending lock leases), one for
 * compaction, which renders a whole snapshot and would otherwise delay them. Daemons, so an
 * application that forgets {@code close()} still exits (its journal is intact; only compaction is
 * skipped).
 */
final class Maintenance {
  private Maintenance() {}

  static final ScheduledThreadPoolExecutor SCHEDULER = daemon("tiercache-maintenance");
  static final ScheduledThreadPoolExecutor COMPACTOR = daemon("tiercache-compaction");

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
