package io.tiercache;

import static io.tiercache.JsonProcesses.TTL;
import static io.tiercache.JsonProcesses.json;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The expired content a rollover keeps for stale-if-error, and the explicit clear that takes it with
 * it, as every process sees them: the one that made them, one that follows or rebases, one opened after.
 */
class StaleAcrossProcessesTest {
  @RegisterExtension final JsonProcesses processes = new JsonProcesses();
  final FakeClock clock = processes.clock;

  JsonFileStore open() {
    return processes.open(b -> b.staleIfError(Duration.ofHours(1)));
  }

  @Test
  void anExplicitClearInTheJournalRemovesTheStaleContentTheSnapshotKept() {
    JsonFileStore a = open();
    a.await(a.put("old", json("1")));
    clock.advance(TTL.plusSeconds(10));
    a.await(a.put("n", json("2"))); // a rollover that keeps "old" for stale-if-error
    a.flush(); // the snapshot keeps it too
    assertThat(open().getStale("old")).as("kept, before the clear").isNotNull();
    a.await(a.clear()); // takes the expired content with it
    assertThat(a.getStale("old")).as("in the process that cleared").isNull();
    assertThat(open().getStale("old")).as("in a process opened after the clear").isNull();
  }

  @Test
  void aQueuedClearRebasedOnAnotherProcesssCompactionKeepsNoStaleContent() {
    JsonFileStore a = open();
    JsonFileStore b = open();
    a.await(a.put("old", json("1")));
    b.refresh();
    clock.advance(TTL.plusSeconds(10));
    b.await(b.put("n", json("2"))); // b's rollover keeps "old"
    b.flush(); // and its snapshot
    PersistentStore.Write clear = a.clear(); // queued: it lands after b's compaction
    a.refresh(); // rebases on b's snapshot
    assertThat(a.getStale("old")).as("a, whose clear is queued").isNull();
    a.await(clear);
    assertThat(a.getStale("old")).as("a, after its clear is written").isNull();
    assertThat(open().getStale("old")).as("a process opened after the clear").isNull();
  }

  /** The stale-keeping rollover is in the journal, not compacted yet. */
  @Test
  void aProcessOpenedAfterARolloverKeepsTheStaleContentItKept() {
    JsonFileStore a = open();
    a.await(a.put("y", json("1")));
    clock.advance(TTL.plusSeconds(10));
    a.await(a.put("z", json("2"))); // a rollover that keeps y for stale-if-error
    assertThat(a.getStale("y")).as("in the process that rolled over").isNotNull();
    assertThat(open().getStale("y")).as("in a process opened after it").isNotNull();
  }
}
