package io.tiercache;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/** What a persistent store is opened with; filled in by the builders, validated there. */
final class StoreSettings {
  StoreType type = JsonFileStore.TYPE;
  Path directory;
  String name;
  Durability durability = Durability.WRITE;
  Duration expireAfter;
  Clock clock = Clock.systemUTC();
  Duration lockTimeout = Duration.ofSeconds(30);
  Duration refreshInterval = Duration.ofSeconds(1);
  Duration asyncFlushDelay = Duration.ofMillis(50);
  long compactionMinBytes = 1 << 20;
  FileOps fileOps = FileOps.ownerOnly();
  long chronicleEntries;
  int chronicleAverageValueBytes;
  /** The Redis store's server; null for the other stores. */
  URI redisUri;
  Duration redisTimeout = Duration.ofSeconds(2);

  Path snapshotFile() {
    return directory.resolve(name + ".json");
  }

  Path journalFile() {
    return directory.resolve(name + ".journal");
  }

  Path lockFile() {
    return directory.resolve(name + ".lock");
  }

  Path chronicleFile() {
    return directory.resolve(name + ".cmap");
  }

  Path chronicleStateFile() {
    return directory.resolve(name + ".cmap.state");
  }

  /**
   * The canonical path of {@code file} in {@link #directory}, which is created (with the
   * directory permissions) when missing: the registry key of file stores.
   */
  Path canonicalFile(Path file) {
    fileOps.createDirectories(directory);
    try {
      return file.getParent().toRealPath().resolve(file.getFileName());
    } catch (IOException e) {
      throw new CacheException("cannot resolve the cache directory", file.getParent(), e);
    }
  }
}
