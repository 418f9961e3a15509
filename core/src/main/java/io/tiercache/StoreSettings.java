package io.tiercache;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;

/** What a persistent store is opened with; filled in by the builders, validated there. */
final class StoreSettings {
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

  Path snapshotFile() {
    return directory.resolve(name + ".json");
  }

  Path journalFile() {
    return directory.resolve(name + ".journal");
  }

  Path lockFile() {
    return directory.resolve(name + ".lock");
  }

  /** The settings a second opener of the same files must agree with. */
  String identity() {
    return "durability=" + durability + ", expireAfter=" + expireAfter + ", lockTimeout=" + lockTimeout
        + ", refreshInterval=" + refreshInterval;
  }
}
