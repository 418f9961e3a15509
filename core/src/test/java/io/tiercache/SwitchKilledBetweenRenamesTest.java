package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.Assets.Model;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A compactor or a replace killed after renaming its snapshot into place and before renaming its
 * journal: the old journal, sealed, stays in place, and the state page still announces the switch.
 * The switch is completed, whoever comes next, and nothing acknowledged is lost.
 */
class SwitchKilledBetweenRenamesTest {
  static final Duration TTL = Duration.ofHours(1);

  @TempDir Path dir;
  final FakeClock clock = new FakeClock();
  final List<AutoCloseable> opened = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : opened) {
      c.close();
    }
  }

  /** A "process": a store of its own on the same files, bypassing the in-JVM registry. */
  JsonFileStore process() {
    JsonFileStore store = JsonFileStore.open(TieredCache.builder(String.class, Model.class).directory(dir)
        .name("shared").expireAfter(TTL).clock(clock).refreshInterval(Duration.ZERO).config().store());
    opened.add(store);
    return store;
  }

  static byte[] json(String s) {
    return s.getBytes(UTF_8);
  }

  interface Switch {
    void run() throws IOException;
  }

  /** Runs {@code s}, then puts back what it did after renaming its snapshot: its killer's leftovers. */
  void killedBetweenItsRenames(Switch s) throws IOException {
    Path journal = dir.resolve("shared.journal");
    Path old = dir.resolve("old-journal");
    Files.createLink(old, journal); // the journal it seals, as the rename of the new one leaves it
    s.run();
    Files.move(old, journal, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    try (StateFile state = new StateFile(dir.resolve("shared.state"), FileOps.ownerOnly(), Duration.ofSeconds(5))) {
      long switched = state.generation();
      state.lock();
      try {
        state.endSwitch(switched - 1);
        state.beginSwitch(switched); // announced, never ended
      } finally {
        state.unlock();
      }
    }
  }

  @Test
  void aReplaceKilledBetweenItsRenamesLosesNoWriteAcknowledgedAfterIt() throws IOException {
    JsonFileStore writer = process();
    JsonFileStore replacer = process();
    writer.await(writer.put("a", json("1")));
    replacer.refresh();
    killedBetweenItsRenames(() -> replacer.replaceAll(Map.of("r", json("2"))));
    opened.remove(replacer); // killed: never used again
    writer.await(writer.put("x", json("3"))); // acknowledged after the kill
    writer.await(writer.put("y", json("4")));
    JsonFileStore next = process();
    for (JsonFileStore store : List.of(next, writer)) {
      store.refresh();
      assertThat(store.get("x")).as("x").isNotNull();
      assertThat(store.get("y")).as("y").isNotNull();
      assertThat(store.get("r")).as("the replace, whole: its snapshot is in place").isNotNull();
      assertThat(store.get("a")).as("what it replaced").isNull();
    }
    writer.flush();
    assertThat(process().get("x")).isNotNull();
  }

  @Test
  void aCompactionKilledBetweenItsRenamesBringsNothingOfAnEndedPeriodBack() throws IOException {
    JsonFileStore a = process();
    a.await(a.put("old", json("0")));
    clock.advance(TTL.plusMillis(10));
    a.await(a.put("y", json("1"))); // the next period: a rollover, then y
    killedBetweenItsRenames(a::flush);
    opened.remove(a);
    JsonFileStore reopened = process();
    assertThat(reopened.get("y")).isNotNull();
    assertThat(reopened.get("old")).as("of the period that ended").isNull();
  }

  /** As above, with the state page lost too: the next open rebuilds from the sealed journal. */
  @Test
  void aCompactionKilledBetweenItsRenamesIsRebuiltWithNothingOfAnEndedPeriodWithoutItsAnnouncement()
      throws IOException {
    JsonFileStore a = process();
    a.await(a.put("old", json("0")));
    clock.advance(TTL.plusMillis(10));
    a.await(a.put("y", json("1")));
    killedBetweenItsRenames(a::flush);
    opened.remove(a);
    Files.delete(dir.resolve("shared.state"));
    JsonFileStore reopened = process();
    assertThat(reopened.get("y")).isNotNull();
    assertThat(reopened.get("old")).as("of the period that ended").isNull();
  }
}
