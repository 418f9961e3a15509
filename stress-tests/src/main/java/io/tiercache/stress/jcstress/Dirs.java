package io.tiercache.stress.jcstress;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Where the jcstress tests put their cache files: one temporary directory per test JVM, on
 * {@code /dev/shm} when there is one (a tmpfs: fsync costs nothing, so states stay cheap), removed
 * when the JVM exits. Keys are unique per state, so states sharing a cache never see each other.
 */
final class Dirs {
  private Dirs() {}

  private static final AtomicLong IDS = new AtomicLong();
  static final Path ROOT = create();

  private static Path create() {
    try {
      Path shm = Path.of("/dev/shm");
      Path parent = Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
      Path dir = Files.createTempDirectory(parent, "tiercache-jcstress-");
      Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(dir)));
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A key no other state uses. */
  static String uniqueKey() {
    return "k" + IDS.incrementAndGet();
  }

  /** A fresh subdirectory for one state. */
  static Path fresh() {
    try {
      return Files.createDirectory(ROOT.resolve("s" + IDS.incrementAndGet()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void delete(Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    } catch (IOException | UncheckedIOException ignored) {
      // best effort at exit
    }
  }
}
