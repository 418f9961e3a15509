package io.tiercache;

import static io.tiercache.JsonProcesses.TTL;
import static io.tiercache.JsonProcesses.json;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A compactor or a replace killed after renaming its snapshot into place and before renaming its
 * journal: the old journal, sealed, stays in place, and the state page still announces the switch.
 * The switch is completed, whoever comes next, and nothing acknowledged is lost.
 */
class SwitchKilledBetweenRenamesTest {
  @RegisterExtension final JsonProcesses processes = new JsonProcesses();
  final FakeClock clock = processes.clock;

  interface Switch {
    void run() throws IOException;
  }

  /** Runs {@code s}, then puts back what it did after renaming its snapshot: its killer's leftovers. */
  void killedBetweenItsRenames(Switch s) throws IOException {
    Path journal = processes.dir().resolve("shared.journal");
    Path old = processes.dir().resolve("old-journal");
    Files.createLink(old, journal); // the journal it seals, as the rename of the new one leaves it
    s.run();
    Files.move(old, journal, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    try (StateFile state = new StateFile(processes.dir().resolve("shared.state"), FileOps.ownerOnly(), Duration.ofSeconds(5))) {
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
    JsonFileStore writer = processes.open();
    JsonFileStore replacer = processes.open();
    writer.await(writer.put("a", json("1")));
    replacer.refresh();
    killedBetweenItsRenames(() -> replacer.replaceAll(Map.of("r", json("2"))));
    processes.kill(replacer); // killed: never used again
    writer.await(writer.put("x", json("3"))); // acknowledged after the kill
    writer.await(writer.put("y", json("4")));
    JsonFileStore next = processes.open();
    for (JsonFileStore store : List.of(next, writer)) {
      store.refresh();
      assertThat(store.get("x")).as("x").isNotNull();
      assertThat(store.get("y")).as("y").isNotNull();
      assertThat(store.get("r")).as("the replace, whole: its snapshot is in place").isNotNull();
      assertThat(store.get("a")).as("what it replaced").isNull();
    }
    writer.flush();
    assertThat(processes.open().get("x")).isNotNull();
  }

  @Test
  void aCompactionKilledBetweenItsRenamesBringsNothingOfAnEndedPeriodBack() throws IOException {
    JsonFileStore a = processes.open();
    a.await(a.put("old", json("0")));
    clock.advance(TTL.plusMillis(10));
    a.await(a.put("y", json("1"))); // the next period: a rollover, then y
    killedBetweenItsRenames(a::flush);
    processes.kill(a);
    JsonFileStore reopened = processes.open();
    assertThat(reopened.get("y")).isNotNull();
    assertThat(reopened.get("old")).as("of the period that ended").isNull();
  }

  /** As above, with the state page lost too: the next open rebuilds from the sealed journal. */
  @Test
  void aCompactionKilledBetweenItsRenamesIsRebuiltWithNothingOfAnEndedPeriodWithoutItsAnnouncement()
      throws IOException {
    JsonFileStore a = processes.open();
    a.await(a.put("old", json("0")));
    clock.advance(TTL.plusMillis(10));
    a.await(a.put("y", json("1")));
    killedBetweenItsRenames(a::flush);
    processes.kill(a);
    Files.delete(processes.dir().resolve("shared.state"));
    JsonFileStore reopened = processes.open();
    assertThat(reopened.get("y")).isNotNull();
    assertThat(reopened.get("old")).as("of the period that ended").isNull();
  }

  /**
   * A compaction killed between its renames whose seal's renderedFrom is not where the records its
   * snapshot lacks begin (a damaged or crafted seal): in the middle of a line, in the header, past the
   * seal. Two batches appended after the render are carried by nobody else: they must survive, with or
   * without the state page that announces the switch.
   */
  @ParameterizedTest
  @ValueSource(strings = {"unit", "midline", "past", "zero", "header"})
  void aSealWhoseRenderedFromIsNoUnitStartLosesNoRecord(String where) throws IOException {
    for (boolean withoutState : new boolean[] {false, true}) {
      craftedSeal(where, withoutState);
    }
  }

  private void craftedSeal(String where, boolean withoutState) throws IOException {
    Path dir = Files.createTempDirectory(processes.dir(), "crafted");
    Path journal = dir.resolve("shared.journal");
    JsonFileStore a = open(dir);
    a.await(a.put("x", json("1")));
    Path old = dir.resolve("old-journal");
    Files.createLink(old, journal);
    a.flush(); // snapshot g holds x; the old journal gets a seal
    a.close();
    byte[] oldBytes = Files.readAllBytes(old);
    int sealUnit = oldBytes.length - 1;
    while (oldBytes[sealUnit - 1] != '\n') {
      sealUnit--;
    }
    sealUnit--; // the line break that opens the seal's unit
    ByteArrayOutputStream j = new ByteArrayOutputStream();
    j.write(oldBytes, 0, sealUnit);
    int unit = j.size();
    j.write(Journal.batch("w9", 1, 1));
    int midline = j.size() + 5;
    byte[] y = "2".getBytes(StandardCharsets.UTF_8);
    j.write(Journal.put("y", y, 0, y.length));
    j.write(Journal.batch("w9", 2, 1));
    byte[] z = "3".getBytes(StandardCharsets.UTF_8);
    j.write(Journal.put("z", z, 0, z.length));
    long sealAt = j.size() + 1;
    long from = switch (where) {
      case "unit" -> unit;
      case "midline" -> midline;
      case "past" -> sealAt + 1000;
      case "zero" -> 0;
      case "header" -> 3;
      default -> throw new IllegalArgumentException(where);
    };
    Path state = dir.resolve("shared.state");
    long generation;
    try (StateFile s = new StateFile(state, FileOps.ownerOnly(), Duration.ofSeconds(5))) {
      generation = s.generation();
      s.lock();
      try {
        s.endSwitch(generation - 1);
        s.beginSwitch(generation);
      } finally {
        s.unlock();
      }
    }
    j.write(Journal.seal(generation, "w1", from));
    Files.write(old, j.toByteArray());
    Files.move(old, journal, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    if (withoutState) {
      Files.delete(state);
    }
    try (JsonFileStore b = open(dir)) {
      for (String key : List.of("x", "y", "z")) {
        assertThat(b.get(key)).as(where + (withoutState ? ", without the state page: " : ": ") + key).isNotNull();
      }
    }
  }

  private JsonFileStore open(Path dir) {
    return JsonFileStore.open(TieredCache.builder(String.class, String.class).directory(dir).name("shared")
        .expireAfter(TTL).clock(clock).refreshInterval(Duration.ZERO).config().store());
  }
}
