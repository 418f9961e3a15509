package io.tiercache;

import java.nio.file.Path;
import java.util.Optional;
import org.jspecify.annotations.Nullable;

/**
 * An unchecked failure of a cache's persistent tier: a file that cannot be read, written or locked,
 * a value that cannot be encoded or decoded. The message names the file (when there is one) and
 * the cause.
 */
public class CacheException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient @Nullable Path file;

  /**
   * @param message what failed, in words a user can act on
   * @param file the file involved, or {@code null} when none is
   * @param cause the underlying failure, or {@code null}
   */
  public CacheException(String message, @Nullable Path file, @Nullable Throwable cause) {
    super(file == null ? message : message + " [" + file + "]", cause);
    this.file = file;
  }

  public CacheException(String message, @Nullable Path file) {
    this(message, file, null);
  }

  /** The file involved in the failure, if any. */
  public Optional<Path> file() {
    return Optional.ofNullable(file);
  }
}
