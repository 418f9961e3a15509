package io.tiercache.stress.faults;

/**
 * The machine cannot create a scenario's condition (mount refused, no redis-server, not root):
 * the scenario is skipped with this reason, printed, never silently.
 */
public final class Unavailable extends Exception {
  private static final long serialVersionUID = 1L;

  Unavailable(String reason) {
    super(reason);
  }
}
