package io.tiercache;

import static io.tiercache.JsonProcesses.TTL;
import static io.tiercache.JsonProcesses.json;
import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.PersistentStore.Write;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A write made after the period ended starts the next one, with a clear of the expired content. Two
 * processes that each see the end before reading the other's rollover both start one: the second
 * must not wipe what was written after the first.
 */
class RolloverRaceTest {
  @RegisterExtension final JsonProcesses processes = new JsonProcesses();
  final FakeClock clock = processes.clock;

  void assertHolds(JsonFileStore store, String... keys) {
    for (String key : keys) {
      assertThat(store.get(key)).as(key).isNotNull();
    }
    assertThat(store.get("old")).as("the expired period's entry").isNull();
  }

  @Test
  void theSecondRolloverOfAPeriodWipesNothingWrittenAfterTheFirst() {
    JsonFileStore a = processes.open();
    JsonFileStore b = processes.open();
    a.await(a.put("old", json("0")));
    b.refresh();
    clock.advance(TTL.plusMillis(10)); // the period ends
    b.await(b.put("x", json("1"))); // b starts the next one
    clock.advance(Duration.ofMillis(300)); // a has not read it yet
    a.await(a.put("y", json("2"))); // a starts one too, after x in the journal
    a.refresh();
    b.refresh();
    assertHolds(a, "x", "y");
    assertHolds(b, "x", "y");
    assertThat(a.expiresAtMillis()).as("the period the first rollover started").isEqualTo(b.expiresAtMillis());
    a.flush();
    assertHolds(processes.open(), "x", "y");
  }

  @Test
  void aRolloverStillQueuedWhenAnotherProcessCompactsTheNextPeriodWipesNothing() {
    JsonFileStore a = processes.open();
    JsonFileStore b = processes.open();
    a.await(a.put("old", json("0")));
    b.refresh();
    clock.advance(TTL.plusMillis(10));
    Write y = a.put("y", json("2")); // a's rollover and y, queued
    b.await(b.put("x", json("1")));
    b.flush(); // b's period, compacted
    a.refresh(); // a follows it with its rollover still queued
    a.await(y);
    assertHolds(a, "x", "y");
    b.refresh();
    assertHolds(b, "x", "y");
    a.flush();
    assertHolds(processes.open(), "x", "y");
  }

  @Test
  void aRolloverACompactionQueuedWipesNothingWrittenAfterIt() {
    JsonFileStore a = processes.open();
    JsonFileStore b = processes.open();
    a.await(a.put("old", json("0")));
    b.refresh();
    clock.advance(TTL.plusMillis(10));
    a.flush(); // a's compaction starts the next period; its clear is queued behind it
    b.refresh(); // b follows a's compaction into that period
    b.await(b.put("x", json("1")));
    a.await(a.put("y", json("2"))); // a's queued clear lands after x
    a.refresh();
    b.refresh();
    assertHolds(a, "x", "y");
    assertHolds(b, "x", "y");
    assertHolds(processes.open(), "x", "y");
  }
}
