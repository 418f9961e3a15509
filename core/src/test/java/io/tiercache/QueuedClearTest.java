package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.Assets.Model;
import io.tiercache.PersistentStore.Write;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A clear this process made and has not written yet (invalidateAll queues it, then awaits it) lands
 * after whatever the journal holds now: whatever this process reads before writing it, another
 * process's records or its compaction, must not undo it.
 */
class QueuedClearTest {
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
  JsonFileStore process(UnaryOperator<TieredCacheBuilder<String, Model>> settings) {
    JsonFileStore store = JsonFileStore.open(settings.apply(TieredCache.builder(String.class, Model.class)
        .directory(dir).name("shared").expireAfter(Duration.ofHours(1)).clock(clock)
        .refreshInterval(Duration.ZERO)).config().store());
    opened.add(store);
    return store;
  }

  JsonFileStore process() {
    return process(b -> b);
  }

  static byte[] json(String s) {
    return s.getBytes(UTF_8);
  }

  @Test
  void aClearQueuedWhenAnotherProcessCompactsIsNotUndoneByFollowingIt() {
    JsonFileStore a = process();
    JsonFileStore b = process();
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
    assertThat(process().get("k")).as("for everyone, after a's compaction").isNull();
  }

  @Test
  void anotherProcesssWriteReadWhileAClearIsQueuedIsClearedToo() {
    JsonFileStore a = process();
    JsonFileStore b = process();
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
    assertThat(process().get("o")).as("for everyone, after a's compaction").isNull();
  }

  /**
   * A clear whose write raced another process's switch: read back in the journal that was sealed, it
   * is in the files before it counts as written, and hides only what came before it there.
   */
  @Test
  void aClearWrittenAsAnotherProcessSwitchesHidesOnlyWhatCameBeforeIt() {
    JsonFileStore a = process();
    JsonFileStore b = process();
    JsonFileStore c = process();
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
    JsonFileStore d = process();
    assertThat(d.get("k")).isNull();
    assertThat(d.get("o")).as("for everyone, after a's compaction").isNotNull();
  }
}
