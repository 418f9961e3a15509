package io.tiercache.stress.faults;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The Python SDK's AssetCache in a real python3 ({@code seed_asset_cache.py}: the seed's algorithm,
 * its file operations in its order, its {@code flock}), driven by commands on standard input.
 */
final class SeedPython {
  private SeedPython() {}

  /** A python3 process on cache {@code name} in {@code dir}; not yet constructed (send {@code open}). */
  static Child start(String label, Path work, Path dir, String name) throws IOException, Unavailable {
    Path script = work.resolve("seed_asset_cache.py");
    if (!Files.exists(script)) {
      try (InputStream in = SeedPython.class.getResourceAsStream("seed_asset_cache.py")) {
        Files.createDirectories(work);
        Files.copy(in, script, StandardCopyOption.REPLACE_EXISTING);
      }
    }
    try {
      return Child.start(label, List.of("python3", "-u", script.toString(), dir.toString(), name), work);
    } catch (IOException noPython) {
      throw new Unavailable("python3 is not installed: " + noPython.getMessage());
    }
  }
}
