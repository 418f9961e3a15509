package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The layers over the snapshot: lookups, counts, clears, and freezing for a compaction. */
class ContentTest {
  @TempDir Path dir;

  SnapshotFile snapshot(Map<String, String> entries) throws Exception {
    Path file = dir.resolve("c" + System.nanoTime() + ".snapshot");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      SnapshotFile.write(ch, 1, false, SnapshotFileTest.source(entries, 1_000), null, () -> new long[0], h -> { });
      return SnapshotFile.map(file, ch);
    }
  }

  static Encoded v(String s, long seq) {
    return Encoded.of(s.getBytes(UTF_8), seq);
  }

  static String text(Encoded e) {
    return e == null ? null : SnapshotAndJournalTest.compact(new String(e.buf, e.offset, e.length, UTF_8));
  }

  static Map<String, String> all(Content c) throws Exception {
    Map<String, String> m = new TreeMap<>();
    c.view().forEach((k, e) -> m.put(k, text(e)));
    return m;
  }

  @Test
  void layersShadowTheSnapshotAndTheCountFollows() throws Exception {
    Content c = new Content(snapshot(Map.of("a", "1", "b", "2")), 1_000);
    assertThat(c.size()).isEqualTo(2);
    c.lock.lock();
    try {
      c.change("a", v("10", 1));
      c.change("b", Encoded.removal(2));
      c.change("n", v("3", 3));
      c.change("gone", Encoded.removal(4)); // removing what is not there changes no count
    } finally {
      c.lock.unlock();
    }
    assertThat(c.size()).isEqualTo(2);
    assertThat(text(c.view().value("a"))).isEqualTo("10");
    assertThat(c.view().value("b")).isNull();
    assertThat(c.view().entry("b").removed()).isTrue();
    assertThat(all(c)).containsExactly(Map.entry("a", "10"), Map.entry("n", "3"));
  }

  @Test
  void aClearHidesEverythingButTheChangesAboveItsSequence() throws Exception {
    Content c = new Content(snapshot(Map.of("a", "1")), 1_000);
    long epoch = c.epoch();
    c.lock.lock();
    try {
      c.change("mine-before", v("1", 5));
      c.change("mine-after", v("2", 9));
      c.clear(2_000, 7);
    } finally {
      c.lock.unlock();
    }
    assertThat(c.epoch()).isNotEqualTo(epoch);
    assertThat(c.expiresAt()).isEqualTo(2_000);
    assertThat(all(c)).containsOnlyKeys("mine-after");
    assertThat(c.size()).isEqualTo(1);
  }

  @Test
  void aFrozenLayerStaysVisibleWhileRenderedAndGoesWithTheCompaction() throws Exception {
    Content c = new Content(snapshot(Map.of("a", "1")), 1_000);
    Content.View rendered;
    c.lock.lock();
    try {
      c.change("b", v("2", 1));
      rendered = c.freeze();
      assertThatThrownBy(c::freeze).isInstanceOf(IllegalStateException.class);
      c.change("b", v("20", 2)); // on top of the frozen layer
      c.change("c", v("3", 3));
    } finally {
      c.lock.unlock();
    }
    assertThat(all(c)).containsExactly(Map.entry("a", "1"), Map.entry("b", "20"), Map.entry("c", "3"));
    List<String> renderedKeys = new ArrayList<>();
    rendered.forEach((k, e) -> renderedKeys.add(k + "=" + text(e)));
    assertThat(renderedKeys).containsExactlyInAnyOrder("a=1", "b=2");
    c.lock.lock();
    try {
      c.compacted(snapshot(Map.of("a", "1", "b", "2")));
    } finally {
      c.lock.unlock();
    }
    assertThat(c.view().frozen).isNull();
    assertThat(all(c)).containsExactly(Map.entry("a", "1"), Map.entry("b", "20"), Map.entry("c", "3"));
  }

  @Test
  void anAbandonedCompactionPutsTheFrozenLayerBackBeneath() throws Exception {
    Content c = new Content(snapshot(Map.of()), 1_000);
    c.lock.lock();
    try {
      c.change("x", v("1", 1));
      c.freeze();
      c.change("x", v("2", 2));
      c.change("y", v("3", 3));
      c.unfreeze();
    } finally {
      c.lock.unlock();
    }
    assertThat(c.view().frozen).isNull();
    assertThat(all(c)).containsExactly(Map.entry("x", "2"), Map.entry("y", "3"));
  }

  @Test
  void recordsReplayAsTheyStandInTheFile() throws Exception {
    Content c = new Content(snapshot(Map.of("a", "1")), 1_000);
    c.lock.lock();
    try {
      c.apply(Journal.Record.put("b", v("2", 0)));
      c.apply(new Journal.Record(Journal.CLEAR, null, null, 5_000, false));
      c.apply(Journal.Record.put("c", v("3", 0)));
      c.apply(new Journal.Record(Journal.EXPIRY, null, null, 4_000, false));
      c.apply(Journal.Record.remove("c"));
    } finally {
      c.lock.unlock();
    }
    assertThat(all(c)).isEmpty();
    assertThat(c.expiresAt()).isEqualTo(4_000);
  }
}
