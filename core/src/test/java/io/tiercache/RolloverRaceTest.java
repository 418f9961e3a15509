package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.Assets.Model;
import io.tiercache.PersistentStore.Write;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A write made after the period ended starts the next one, with a clear of the expired content. Two
 * processes that each see the end before reading the other's rollover both start one: the second
 * must not wipe what was written after the first.
 */
class RolloverRaceTest {
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

  void assertHolds(JsonFileStore store, String... keys) {
    for (String key : keys) {
      assertThat(store.get(key)).as(key).isNotNull();
    }
    assertThat(store.get("old")).as("the expired period's entry").isNull();
  }

  @Test
  void theSecondRolloverOfAPeriodWipesNothingWrittenAfterTheFirst() {
    JsonFileStore a = process();
    JsonFileStore b = process();
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
    assertHolds(process(), "x", "y");
  }

  @Test
  void aRolloverStillQueuedWhenAnotherProcessCompactsTheNextPeriodWipesNothing() {
    JsonFileStore a = process();
    JsonFileStore b = process();
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
    assertHolds(process(), "x", "y");
  }

  @Test
  void aRolloverACompactionQueuedWipesNothingWrittenAfterIt() {
    JsonFileStore a = process();
    JsonFileStore b = process();
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
    assertHolds(process(), "x", "y");
  }
}
