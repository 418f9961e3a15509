package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tiercache.Assets.Model;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A put whose durable write fails (a full disk, made for real with a small tmpfs) must not stay in
 * the front tier: this JVM must not serve what the store could not keep (issue 12).
 */
class FailedWriteTest {
  @TempDir Path tmp;
  Path mount;

  @BeforeEach
  void mountASmallFileSystem() throws Exception {
    mount = Files.createDirectory(tmp.resolve("small"));
    Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", mount.toString())
        .redirectErrorStream(true).start();
    boolean done = p.waitFor(30, TimeUnit.SECONDS);
    String output = new String(p.getInputStream().readAllBytes());
    if (!done) {
      p.destroyForcibly();
    }
    if (!done || p.exitValue() != 0) {
      System.out.println("FailedWriteTest skipped: cannot mount a tmpfs here (" + output.trim() + ")");
      mount = null;
      Assumptions.abort("mount refused: " + output.trim());
    }
  }

  @AfterEach
  void unmount() throws Exception {
    if (mount != null) {
      Process p = new ProcessBuilder("umount", "-l", mount.toString()).redirectErrorStream(true).start();
      p.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /** Fills the file system until a write fails; returns the filler so that space can be freed. */
  static Path fill(Path dir) throws IOException {
    Path filler = dir.resolve("filler");
    byte[] block = new byte[4096];
    try (OutputStream out = Files.newOutputStream(filler)) {
      while (true) {
        out.write(block);
        out.flush();
      }
    } catch (IOException full) {
      return filler;
    }
  }

  static Model big(String id) {
    return new Model(id, "x".repeat(64 * 1024), null, Map.of(), List.of(), null, null);
  }

  @Test
  void aPutThatCannotBeWrittenIsNotServedFromMemory() throws Exception {
    Path dir = mount.resolve("cache");
    try (TieredCache<String, Model> cache = TieredCache.builder(String.class, Model.class).directory(dir)
        .name("models").expireAfter(Duration.ofHours(1)).durability(Durability.WRITE).build()) {
      cache.put("big", Model.of("big"));
      assertThat(cache.getIfPresent("big")).isEqualTo(Model.of("big"));
      LocalTieredCache<String, Model> local = ((CacheHandle<String, Model>) cache).cache();
      assertThat(local.frontHolds("big")).as("read, so held in memory: the put below replaces it there").isTrue();

      Path filler = fill(mount);
      assertThatThrownBy(() -> cache.put("big", big("big"))).isInstanceOf(CacheException.class)
          .hasMessageContaining("journal");
      assertThat(local.frontHolds("big")).as("dropped from the front tier before the exception").isFalse();

      assertThatThrownBy(() -> cache.getAll(List.of("big2"), ids -> Map.of("big2", big("big2"))))
          .isInstanceOf(CacheException.class);
      assertThat(local.frontHolds("big2")).as("a bulk load that cannot be written is dropped too").isFalse();
      Files.delete(filler);
    }
  }
}
