package io.tiercache;

import static io.tiercache.JsonProcesses.TTL;
import static io.tiercache.JsonProcesses.json;
import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.PersistentStore.Write;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A clear this process made and has not written yet (invalidateAll queues it, then awaits it) lands
 * after whatever the journal holds now: whatever this process reads before writing it, another
 * process's records or its compaction, must not undo it.
 */
class QueuedClearTest {
  @RegisterExtension final JsonProcesses processes = new JsonProcesses();

  @Test
  void aClearQueuedWhenAnotherProcessCompactsIsNotUndoneByFollowingIt() {
    JsonFileStore a = processes.open();
    JsonFileStore b = processes.open();
    a.await(a.put("k", json("1")));
    b.refresh();
    b.flush(); // b compacts: the journal a appends to is sealed
    Write clear = a.clear(); // queued, as invalidateAll leaves it until it awaits
    a.refresh(); // a follows b's compaction with its clear still queued
    assertThat(a.get("k")).as("before the clear is written").isNull();
    a.await(clear);
    assertThat(a.get("k")).as("after").isNull();
    b.refresh();
    assertThat(b.get("k")).isNull();
    a.flush(); // a's compaction renders what a holds
    assertThat(processes.open().get("k")).as("for everyone, after a's compaction").isNull();
  }

  @Test
  void anotherProcesssWriteReadWhileAClearIsQueuedIsClearedToo() {
    JsonFileStore a = processes.open();
    JsonFileStore b = processes.open();
    a.await(a.put("k", json("1")));
    Write clear = a.clear();
    b.await(b.put("o", json("2"))); // lands before a's clear
    a.refresh();
    assertThat(a.get("o")).as("the clear lands after it").isNull();
    a.await(clear);
    b.refresh();
    assertThat(b.get("o")).isNull();
    assertThat(a.get("o")).isNull();
    a.flush();
    assertThat(processes.open().get("o")).as("for everyone, after a's compaction").isNull();
  }

  /**
   * A clear whose write raced another process's switch: read back in the journal that was sealed, it
   * is in the files before it counts as written, and hides only what came before it there.
   */
  @Test
  void aClearWrittenAsAnotherProcessSwitchesHidesOnlyWhatCameBeforeIt() {
    JsonFileStore a = processes.open();
    JsonFileStore b = processes.open();
    JsonFileStore c = processes.open();
    a.await(a.put("k", json("1")));
    a.afterAppend = () -> {
      a.afterAppend = () -> {};
      c.await(c.put("o", json("2"))); // after a's clear
      b.flush(); // seals the journal after both, and switches
    };
    a.await(a.clear()); // a confirms its write across b's switch
    assertThat(a.get("k")).isNull();
    assertThat(a.get("o")).as("written after the clear").isNotNull();
    a.flush();
    JsonFileStore d = processes.open();
    assertThat(d.get("k")).isNull();
    assertThat(d.get("o")).as("for everyone, after a's compaction").isNotNull();
  }

  /**
   * A clear queued, then (its new period over too) a write that rolls over: two clears queued, the
   * last a rollover, which must not make the process forget the first. Another process's write read
   * before they are written (following it, or rebased on its compaction) lands before the clear on disk.
   */
  void aClearQueuedBeforeARolloverHidesWhatWasReadBeforeIt(boolean compact, boolean foreignClear) {
    JsonFileStore a = processes.open();
    JsonFileStore b = processes.open();
    a.await(a.put("k", json("1")));
    b.refresh();
    Write clear = a.clear(); // queued
    processes.clock.advance(TTL.plusSeconds(10)); // a's new period is over too
    Write p = a.put("p", json("2")); // queued: a rollover of a's period, then p
    if (foreignClear) {
      b.await(b.clear());
    }
    b.await(b.put("q", json("3"))); // b, unaware of a's clear: lands before it
    if (compact) {
      b.flush();
    }
    a.refresh();
    assertThat(a.get("q")).as("q, before a's clear is written").isNull();
    a.await(clear);
    a.await(p);
    assertThat(processes.open().get("q")).as("q for a fresh process: a's clear landed after it").isNull();
    assertThat(a.get("q")).as("q in the process whose clear removed it").isNull();
    assertThat(a.get("p")).isNotNull();
    a.flush(); // a's compaction renders what a holds
    assertThat(processes.open().get("q")).as("q for a fresh process after a compacted").isNull();
    assertThat(processes.open().get("p")).as("p for a fresh process after a compacted").isNotNull();
  }

  @Test
  void aClearQueuedBeforeARolloverHidesAnotherProcesssWriteItFollows() {
    aClearQueuedBeforeARolloverHidesWhatWasReadBeforeIt(false, false);
  }

  @Test
  void aClearQueuedBeforeARolloverHidesAnotherProcesssWriteAfterItsClearItFollows() {
    aClearQueuedBeforeARolloverHidesWhatWasReadBeforeIt(false, true);
  }

  @Test
  void aClearQueuedBeforeARolloverHidesAnotherProcesssWriteItRebasesOn() {
    aClearQueuedBeforeARolloverHidesWhatWasReadBeforeIt(true, false);
  }

  @Test
  void aClearQueuedBeforeARolloverHidesAnotherProcesssWriteAfterItsClearItRebasesOn() {
    aClearQueuedBeforeARolloverHidesWhatWasReadBeforeIt(true, true);
  }
}
