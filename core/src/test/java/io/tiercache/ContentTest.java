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
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The layers over the snapshot: lookups, counts, clears, and freezing for a compaction. */
class ContentTest {
  @TempDir Path dir;

  SnapshotFile snapshot(Map<String, String> entries) throws Exception {
    Path file = dir.resolve("c" + System.nanoTime() + ".snapshot");
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      SnapshotFile.write(ch, 1, false, SnapshotFileTest.source(entries, 1_000), null, SnapshotFileTest.echoes(SnapshotFile.EchoHashes.NONE), h -> { });
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
      rendered = c.freeze().view();
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
  void theCountOfChangesOverTheSnapshotIsExactOnceAskedFor() throws Exception {
    Content c = new Content(snapshot(Map.of("a", "1", "b", "2", "c", "3")), 1_000);
    c.lock.lock();
    try {
      c.change("a", v("10", 1)); // replaces a snapshot entry: counted once looked up
      c.change("b", Encoded.removal(2)); // removes one
      c.change("n", v("4", 3)); // new
      c.change("gone", Encoded.removal(4)); // removes nothing
      c.change("a", v("11", 5)); // a second change: counted against the first
    } finally {
      c.lock.unlock();
    }
    assertThat(c.size()).isEqualTo(3).isEqualTo(all(c).size());
    c.lock.lock();
    try {
      c.change("c", v("30", 6)); // after a count: looked up again at the next one
    } finally {
      c.lock.unlock();
    }
    assertThat(c.size()).isEqualTo(3);
  }

  @Test
  void aFrozenViewIsCountedWithoutTheLockAndTheCountSettlesOnce() throws Exception {
    Content c = new Content(snapshot(Map.of("a", "1", "b", "2")), 1_000);
    Content.Frozen frozen;
    c.lock.lock();
    try {
      c.change("a", v("10", 1));
      c.change("n", v("3", 2));
      frozen = c.freeze();
      c.change("b", Encoded.removal(3)); // on top, beneath it the snapshot: counted as made
    } finally {
      c.lock.unlock();
    }
    assertThat(c.count(frozen)).isEqualTo(3);
    assertThat(c.size()).isEqualTo(2).isEqualTo(all(c).size());
    assertThat(c.count(frozen)).as("counting again settles nothing twice").isEqualTo(3);
    assertThat(c.size()).isEqualTo(2);
  }

  @Test
  void aCountLooksKeysUpWithoutTheLockThatChangesNeed() throws Exception {
    Map<String, String> entries = new TreeMap<>();
    for (int i = 0; i < 10; i++) {
      entries.put("s" + i, "" + i);
    }
    Content c = new Content(snapshot(entries), 1_000);
    c.lock.lock();
    try {
      c.change("s0", v("10", 1));
      c.change("n", v("3", 2));
    } finally {
      c.lock.unlock();
    }
    List<Boolean> changedMeanwhile = new ArrayList<>();
    c.whileCounting = () -> changedMeanwhile.add(CompletableFuture.supplyAsync(() -> {
      if (!c.lock.tryLock()) {
        return false;
      }
      try { // each round finds a new key over the snapshot to look up, until the last counts it locked
        int round = changedMeanwhile.size() + 1;
        c.change("s" + round, round % 2 == 0 ? Encoded.removal(10 + round) : v("x", 10 + round));
        return true;
      } finally {
        c.lock.unlock();
      }
    }).join());
    assertThat(c.size()).isEqualTo(all(c).size());
    assertThat(changedMeanwhile).as("another thread changed the content while the count looked keys up")
        .hasSizeGreaterThan(1).allMatch(Boolean::booleanValue);
  }

  /**
   * Counts kept while changes, freezes, abandoned and finished compactions, clears and counts interleave
   * at random agree with the entries a walk of the view finds, and a frozen view's with its render.
   * Some of the steps run while a count looks keys up without the lock, in any of its rounds.
   */
  @Test
  void countsAgreeWithTheEntriesThroughRandomInterleavings() throws Exception {
    for (long seed = 1; seed <= 40; seed++) {
      Random random = new Random(seed);
      Map<String, String> initial = new TreeMap<>();
      for (int i = 0; i < 20; i++) {
        if (random.nextBoolean()) {
          initial.put("k" + i, "s" + i);
        }
      }
      Interleaving walk = new Interleaving(random, new Content(snapshot(initial), 1_000));
      Content c = walk.content;
      c.whileCounting = () -> {
        assertThat(c.lock.isHeldByCurrentThread()).as("keys looked up under the lock").isFalse();
        for (int n = random.nextInt(4); n > 0; n--) {
          walk.step(walk.at + ", during a count");
        }
      };
      for (int step = 0; step < 300; step++) {
        walk.at = "seed " + seed + ", step " + step;
        walk.step(walk.at);
        if (random.nextInt(4) == 0) {
          assertThat(c.size()).as(walk.at).isEqualTo(all(c).size());
        }
      }
      assertThat(c.size()).as("seed " + seed).isEqualTo(all(c).size());
    }
  }

  /** A random walk of changes, compactions and clears over one content, as the store makes them. */
  final class Interleaving {
    final Random random;
    final Content content;
    Content.Frozen frozen;
    long seq;
    String at = "";

    Interleaving(Random random, Content content) {
      this.random = random;
      this.content = content;
    }

    void step(String at) {
      Content c = content;
      int op = random.nextInt(100);
      String key = "k" + random.nextInt(30);
      c.lock.lock();
      try {
        if (op < 45) {
          c.change(key, v("v" + seq, ++seq));
        } else if (op < 70) {
          c.change(key, Encoded.removal(++seq));
        } else if (op < 76 && frozen == null) {
          frozen = c.freeze();
        } else if (op < 80 && frozen != null) {
          c.unfreeze();
          frozen = null;
        } else if (op < 86 && frozen != null) {
          c.lock.unlock(); // as a compaction renders: counted without the lock
          try {
            Map<String, String> rendered = new TreeMap<>();
            frozen.view().forEach((k, e) -> rendered.put(k, text(e)));
            assertThat(c.count(frozen)).as(at).isEqualTo(rendered.size());
            SnapshotFile next = snapshot(rendered);
            c.lock.lock();
            c.compacted(next); // as the compactor does, whether or not a clear came meanwhile
          } catch (Exception e) {
            c.lock.lock();
            throw new AssertionError(at, e);
          } catch (Throwable t) {
            c.lock.lock();
            throw t;
          }
          frozen = null;
        } else if (op < 88) {
          c.clear(1_000, seq - random.nextInt(3)); // a compaction rendering goes on
        }
      } finally {
        c.lock.unlock();
      }
    }
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
      c.apply(Journal.Record.clear(5_000, false, Long.MAX_VALUE));
      c.apply(Journal.Record.put("c", v("3", 0)));
      c.apply(Journal.Record.expiry(4_000));
      c.apply(Journal.Record.remove("c"));
    } finally {
      c.lock.unlock();
    }
    assertThat(all(c)).isEmpty();
    assertThat(c.expiresAt()).isEqualTo(4_000);
  }

  @Test
  void aRolloverEndsItsPeriodOrAnEarlierOneAndIsVoidOverALaterOne() throws Exception {
    Content c = new Content(snapshot(Map.of("a", "1")), 1_000);
    c.lock.lock();
    try {
      c.apply(Journal.Record.clear(5_000, false, 1_000)); // ends the period: applies
      c.apply(Journal.Record.put("x", v("2", 0)));
      c.apply(Journal.Record.clear(6_000, false, 1_000)); // another process's, of the same period: void
    } finally {
      c.lock.unlock();
    }
    assertThat(all(c)).containsOnlyKeys("x");
    assertThat(c.expiresAt()).isEqualTo(5_000);
    c.lock.lock();
    try {
      c.apply(Journal.Record.expiry(4_000)); // a shorter expiry, taken from another program's file
      c.apply(Journal.Record.clear(9_000, false, 5_000)); // ends a later period than the content's: applies
    } finally {
      c.lock.unlock();
    }
    assertThat(all(c)).isEmpty();
    assertThat(c.expiresAt()).isEqualTo(9_000);
  }
}
