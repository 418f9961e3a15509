package io.tiercache;

import io.tiercache.Assets.Model;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * "Processes" on one JSON cache's files: stores of their own, bypassing the in-JVM registry, on a
 * fake clock and with no background refresh, in a directory of each test's own. Closes them after it.
 */
final class JsonProcesses implements BeforeEachCallback, AfterEachCallback {
  static final Duration TTL = Duration.ofHours(1);

  final FakeClock clock = new FakeClock();
  private final List<JsonFileStore> opened = new ArrayList<>();
  private Path dir;

  @Override
  public void beforeEach(ExtensionContext context) throws IOException {
    dir = Files.createTempDirectory("tiercache-processes");
  }

  @Override
  public void afterEach(ExtensionContext context) throws IOException {
    opened.forEach(JsonFileStore::close);
    opened.clear();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }

  Path dir() {
    return dir;
  }

  JsonFileStore open() {
    return open(b -> b);
  }

  JsonFileStore open(UnaryOperator<TieredCacheBuilder<String, Model>> settings) {
    JsonFileStore store = JsonFileStore.open(settings.apply(TieredCache.builder(String.class, Model.class)
        .directory(dir).name("shared").expireAfter(TTL).clock(clock).refreshInterval(Duration.ZERO)).config().store());
    opened.add(store);
    return store;
  }

  /** A store killed: never closed, never used again. */
  void kill(JsonFileStore store) {
    opened.remove(store);
  }

  static byte[] json(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }
}
