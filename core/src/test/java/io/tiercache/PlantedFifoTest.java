package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A FIFO planted where the JSON store's files belong: opening one for reading waits for a writer,
 * which would hold the store's locks, and the maintenance thread every store in the JVM shares,
 * forever. It is refused at once instead, and left where it is.
 */
class PlantedFifoTest {
  @TempDir Path dir;
  @TempDir Path other;

  static StoreConfig config(Path dir, String name, Durability durability, Duration refresh) {
    return new StoreConfig(StoreSpec.jsonFiles(), new FileNames(dir, name), durability, Duration.ofHours(1),
        Duration.ZERO, Clock.systemUTC(), Duration.ofSeconds(3), refresh, Duration.ofMillis(50), 1 << 20,
        FileOps.ownerOnly());
  }

  /** Another user's FIFO (chown needs root; the type is refused first anyway) in place of {@code file}. */
  static void plantFifo(Path file) throws Exception {
    Files.deleteIfExists(file); // as the Python SDK's invalidate() leaves it
    assertThat(new ProcessBuilder("mkfifo", file.toString()).start().waitFor()).isZero();
    if (Posix.geteuid() == 0) {
      Files.setAttribute(file, "unix:uid", 65534, LinkOption.NOFOLLOW_LINKS);
    }
  }

  static boolean isFifo(Path file) throws Exception {
    return ((Integer) Files.getAttribute(file, "unix:mode", LinkOption.NOFOLLOW_LINKS) & FileStat.TYPE_MASK) == 0010000;
  }

  @Test
  void anOpenRefusesAFifoInPlaceOfTheExportOrTheSnapshot() throws Exception {
    for (String suffix : new String[] {".json", ".snapshot"}) {
      Path planted = dir.resolve("c" + suffix);
      plantFifo(planted);
      assertTimeoutPreemptively(Duration.ofSeconds(20), () -> assertThatThrownBy(
          () -> JsonFileStore.open(config(dir, "c", Durability.WRITE, Duration.ZERO)).close())
          .isInstanceOf(CacheException.class).hasMessageContaining(planted.toString()));
      assertThat(isFifo(planted)).as("left as it is").isTrue();
      Files.delete(planted);
    }
  }

  @Test
  void aRefreshRefusesAFifoAndTheSharedMaintenanceThreadGoesOn() throws Exception {
    Path json = dir.resolve("c.json");
    // The closes too: a store whose refresh waits on the FIFO holds its locks, and a close would wait for them.
    assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
      try (PersistentStore c = JsonFileStore.open(config(dir, "c", Durability.WRITE, Duration.ofMillis(50)));
          PersistentStore d = JsonFileStore.open(config(other, "d", Durability.ASYNC, Duration.ZERO))) {
        c.put("k", "1".getBytes(UTF_8));
        c.flush();
        plantFifo(json);
        assertThatThrownBy(c::refresh).isInstanceOf(CacheException.class).hasMessageContaining(json.toString());
        c.put("k2", "2".getBytes(UTF_8)); // nothing held
        Thread.sleep(200); // c's background refreshes meet the FIFO meanwhile
        // An ASYNC write of another cache is written by the maintenance thread all stores share.
        d.put("after", "\"acknowledged\"".getBytes(UTF_8));
        while (!Files.readString(other.resolve("d.journal")).contains("after")) {
          Thread.sleep(20);
        }
        assertThat(isFifo(json)).as("left as it is").isTrue();
        Files.delete(json);
      }
    });
  }
}
