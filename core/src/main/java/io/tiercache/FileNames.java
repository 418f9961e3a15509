package io.tiercache;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Objects;

/**
 * The names of one cache's files in its directory: the one place that knows the suffixes. For a
 * cache named {@code N}, the JSON store: {@code N.json} (the Python SDK's file), {@code N.snapshot}
 * (tiercache's own indexed copy), {@code N.journal}, {@code N.state} (tiercache's lock and shared
 * page) and {@code N.lock} (the {@code flock} the Python SDK takes); the Chronicle Map store:
 * {@code N.cmap}, {@code N.cmap.state} and each open process's {@code N.cmap.undo-<id>} (and
 * {@code N.lock}). Temporary files are
 * {@code <file>.<random>.tmp} and damaged files set aside are {@code <file>.corrupt-<UTC timestamp>}.
 */
final class FileNames {
  /**
   * The longest name, in UTF-8 bytes, whose every derived file name (the longest is a journal set
   * aside, {@code N.journal.corrupt-20261201T084423.123Z}, or a temporary) fits the 255 bytes a
   * file name may have on Linux file systems.
   */
  static final int MAX_NAME_BYTES = 255 - 64;

  private final Path directory;
  private final String name;
  // Resolved once, and without string concatenation's bootstrap: an open asks for them a dozen
  // times, mostly before the JIT has compiled anything.
  private final Path json;
  private final Path snapshot;
  private final Path state;
  private final Path journal;
  private final Path lock;

  FileNames(Path directory, String name) {
    this.directory = Objects.requireNonNull(directory, "directory");
    this.name = validName(name);
    this.json = directory.resolve(name.concat(".json"));
    this.snapshot = directory.resolve(name.concat(".snapshot"));
    this.state = directory.resolve(name.concat(".state"));
    this.journal = directory.resolve(name.concat(".journal"));
    this.lock = directory.resolve(name.concat(".lock"));
  }

  Path directory() {
    return directory;
  }

  String name() {
    return name;
  }

  /**
   * Checks a cache name: a plain file name that every derived file name can extend.
   *
   * @throws IllegalArgumentException naming the value and what is wrong with it
   */
  static String validName(String name) {
    Objects.requireNonNull(name, "name");
    if (name.isEmpty() || name.equals(".") || name.equals("..") || name.contains("/")
        || name.contains("\\") || name.contains("\0") || name.contains("..")) {
      throw new IllegalArgumentException("invalid cache file name '" + name
          + "': it must be a plain file name, without path separators or '..'");
    }
    int bytes = name.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_NAME_BYTES) {
      throw new IllegalArgumentException("cache file name too long (" + bytes + " bytes in UTF-8, at most "
          + MAX_NAME_BYTES + " so that its files' names fit in 255): '" + name.substring(0, 32) + "...'");
    }
    return name;
  }

  /** The Python SDK's file: the content in its format, exported at each compaction. */
  Path json() {
    return json;
  }

  /** tiercache's own copy of the content, indexed and memory-mapped. */
  Path snapshot() {
    return snapshot;
  }

  Path state() {
    return state;
  }

  Path journal() {
    return journal;
  }

  Path lock() {
    return lock;
  }

  Path chronicleMap() {
    return directory.resolve(name + ".cmap");
  }

  Path chronicleState() {
    return directory.resolve(name + ".cmap.state");
  }

  /** A process's undo file for the Chronicle Map store; {@code id} empty: the prefix they share. */
  Path chronicleUndo(String id) {
    return directory.resolve(name + ".cmap.undo-" + id);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FileNames other && directory.equals(other.directory) && name.equals(other.name);
  }

  @Override
  public int hashCode() {
    return 31 * directory.hashCode() + name.hashCode();
  }

  @Override
  public String toString() {
    return "FileNames[directory=" + directory + ", name=" + name + "]";
  }
}
