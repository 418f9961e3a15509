package io.tiercache;

import java.util.concurrent.ScheduledThreadPoolExecutor;

/**
 * The one daemon thread that runs every store's background work: refreshing from other
 * processes, flushing {@link Durability#ASYNC} writes, compacting. Daemon, so an application that
 * forgets {@code close()} still exits (its journal is intact; only compaction is skipped).
 */
final class Maintenance {
  private Maintenance() {}

  static final ScheduledThreadPoolExecutor SCHEDULER = new ScheduledThreadPoolExecutor(1, runnable -> {
    Thread thread = new Thread(runnable, "tiercache-maintenance");
    thread.setDaemon(true);
    return thread;
  });

  static {
    SCHEDULER.setRemoveOnCancelPolicy(true);
  }
}
