package io.tiercache;

import java.nio.file.Path;
import java.time.Duration;

/** The lock on a cache's {@code .lock} file was not obtained within the configured timeout. */
public final class LockTimeoutException extends CacheException {
  private static final long serialVersionUID = 1L;

  LockTimeoutException(Path lockFile, Duration timeout, String holder) {
    super("could not lock the cache within " + timeout
        + (holder == null ? "" : "; held by " + holder)
        + " (a Python SDK process or another JVM may be writing it)", lockFile);
  }
}
