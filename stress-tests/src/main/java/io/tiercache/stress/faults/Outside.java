package io.tiercache.stress.faults;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The neighbourhood of a cache directory that no run may touch: {@code root/outside/} with victim
 * files (a user's files that a planted link could point at), and a {@link Tripwire} on the whole
 * of {@code root}, the cache directory's parent, except the cache directory itself and the
 * harness's own files.
 */
final class Outside {
  final Path dir;
  private final Path root;
  private final Path[] excluded;
  private Tripwire wire;

  private Outside(Path dir, Path root, Path[] excluded) throws IOException {
    this.dir = dir;
    this.root = root;
    this.excluded = excluded;
    this.wire = Tripwire.watch(root, excluded);
  }

  /** Two victim files, {@code victim-0} and {@code victim-1}. */
  static Outside create(Path root, Path... excluded) throws IOException {
    Map<String, byte[]> victims = new LinkedHashMap<>();
    for (int i = 0; i < 2; i++) {
      victims.put("victim-" + i, ("a user's file " + i + ", not the cache's\n").getBytes(StandardCharsets.UTF_8));
    }
    return create(root, victims, excluded);
  }

  /** The given victim files under {@code root/outside}, then the tripwire. */
  static Outside create(Path root, Map<String, byte[]> victims, Path... excluded) throws IOException {
    Path dir = Files.createDirectories(root.resolve("outside"));
    for (Map.Entry<String, byte[]> v : victims.entrySet()) {
      Files.write(dir.resolve(v.getKey()), v.getValue());
    }
    return new Outside(dir, root, excluded);
  }

  /** Takes the state to compare with from now: after the harness itself changed something (planted a hard link). */
  void rearm() throws IOException {
    wire = Tripwire.watch(root, excluded);
  }

  Path file(String name) {
    return dir.resolve(name);
  }

  /** What was created, deleted or changed around the cache directory since {@link #create}. */
  List<String> changes() throws IOException {
    return wire.changes();
  }
}
