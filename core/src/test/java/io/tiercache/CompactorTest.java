package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The switch from one snapshot and journal to the next, on real files. */
class CompactorTest {
  @TempDir Path dir;
  final FileOps fileOps = FileOps.ownerOnly();
  FileNames names;
  StateFile state;
  LockFile pythonLock;
  Compactor compactor;

  @BeforeEach
  void setUp() {
    names = new FileNames(dir, "c");
    state = new StateFile(names.state(), fileOps, Duration.ofSeconds(5));
    pythonLock = new LockFile(names.lock(), Duration.ofSeconds(5), fileOps);
    compactor = new Compactor(names, fileOps, state, pythonLock, "compactor");
  }

  @AfterEach
  void tearDown() {
    pythonLock.close();
    state.close();
  }

  JournalFile create(Map<String, String> entries, long generation) throws Exception {
    try (Compactor.Rendered r = compactor.render(generation, false, SnapshotFileTest.source(entries, 9_000_000_000_000L),
        null, SnapshotFile.EchoHashes.NONE, null, 0)) {
      state.lock();
      try {
        return compactor.commit(r);
      } finally {
        state.unlock();
      }
    }
  }

  static byte[] put(String key, String json) {
    return JournalPartsTest.put(key, json);
  }

  @Test
  void aNewCacheGetsItsSnapshotExportAndJournalInPlace() throws Exception {
    try (JournalFile j = create(Map.of("a", "1"), 1)) {
      assertThat(j.generation).isEqualTo(1);
      assertThat(j.carriedBytes).isZero();
      assertThat(state.generation()).isEqualTo(1);
      assertThat(state.switching()).isZero();
      assertThat(Files.readString(names.json())).contains("\"a\": 1", "\"generation\": 1");
      assertThat(state.exportUnchanged(names.json())).isTrue();
    }
  }

  @Test
  void theEchoesAreThisExportsPairsJoinedWithThePreviousOnesSortedAndEachOnce() throws Exception {
    Map<String, String> entries = Map.of("a", "1", "b", "[2]", "c", "{\"d\":3}");
    java.util.TreeSet<Long> expected = new java.util.TreeSet<>();
    entries.forEach((k, v) -> expected.add(SnapshotFile.pairHash(k, Encoded.of(v.getBytes(UTF_8), 0))));
    long mine = expected.first();
    long[] previous = {Long.MAX_VALUE, -7, 42, 42, mine}; // unsorted and repeated: a damaged file's
    java.util.Collections.addAll(expected, Long.MAX_VALUE, -7L, 42L);
    try (Compactor.Rendered r = compactor.render(1, false, SnapshotFileTest.source(entries, 9_000_000_000_000L), null,
        new SnapshotFile.EchoHashes(previous, true, null), null, 0)) {
      assertThat(r.mapped.echoes().hashes()).containsExactly(expected.stream().mapToLong(Long::longValue).toArray());
      assertThat(r.mapped.echoes().format1()).as("format 1's hashes carried along are flagged").isTrue();
    }
    // Past the bound (twice the entries, at least 65,536), the previous exports' are dropped, format 1's with them.
    long[] many = java.util.stream.LongStream.range(0, 70_000).map(i -> i * 3 + 1).toArray();
    try (Compactor.Rendered r = compactor.render(2, false, SnapshotFileTest.source(entries, 9_000_000_000_000L), null,
        new SnapshotFile.EchoHashes(many, true, null), null, 0)) {
      assertThat(r.mapped.echoes().hashes()).hasSize(3).doesNotContain(1L, 4L);
      assertThat(r.mapped.echoes().format1()).isFalse();
    }
  }

  @Test
  void everyLiveEntrysPairIsAnEchoWhetherItWasHashedOrCopiedFromTheSnapshotWhoseEchoesAreKept() throws Exception {
    Map<String, String> entries = numbered(50);
    long expiry = 9_000_000_000_000L;
    try (Compactor.Rendered first = compactor.render(1, false, SnapshotFileTest.source(entries, expiry), null,
        SnapshotFile.EchoHashes.NONE, null, 0);
        Compactor.Rendered other = compactor.render(1, false, SnapshotFileTest.source(entries, expiry), null,
            SnapshotFile.EchoHashes.NONE, null, 0)) {
      assertEveryPairIsAnEcho(first.mapped);
      // Copied from the table whose echoes are carried: hashes kept, entries not hashed again.
      try (Compactor.Rendered r = compactor.render(2, false, SnapshotFileTest.source(first.mapped.live, List.of()),
          null, first.mapped.echoes(), null, 0)) {
        assertEveryPairIsAnEcho(r.mapped);
      }
      // Copied from another snapshot's table than the one whose echoes are carried: hashed.
      try (Compactor.Rendered r = compactor.render(2, false, SnapshotFileTest.source(other.mapped.live, List.of()),
          null, new SnapshotFile.EchoHashes(new long[0], false, first.mapped.live), null, 0)) {
        assertEveryPairIsAnEcho(r.mapped);
      }
      // Previous echoes past the bound are dropped: the copied entries are hashed.
      long[] many = java.util.stream.LongStream.range(0, 70_000).map(i -> i * 3 + 1).toArray();
      try (Compactor.Rendered r = compactor.render(2, false, SnapshotFileTest.source(first.mapped.live, List.of()),
          null, new SnapshotFile.EchoHashes(many, false, first.mapped.live), null, 0)) {
        assertThat(r.mapped.echoes().hashes()).hasSize(entries.size());
        assertEveryPairIsAnEcho(r.mapped);
      }
    }
  }

  @Test
  void thePreviousExportsEchoesAreKeptWhileTheyNumberAtMostTwiceTheEntries() throws Exception {
    Map<String, String> entries = numbered(40_000); // the bound is twice that, not its 65,536 floor
    long expiry = 9_000_000_000_000L;
    Compactor.Rendered last = compactor.render(1, false, SnapshotFileTest.source(entries, expiry), null,
        SnapshotFile.EchoHashes.NONE, null, 0);
    try {
      // Each compaction changes one entry and copies the others from the snapshot before it, as a busy cache's do.
      for (int round = 0; round < 3; round++) {
        String key = "k" + round;
        long oldPair = SnapshotFile.pairHash(key, Encoded.of(entries.get(key).getBytes(UTF_8), 0));
        Compactor.Rendered next = compactor.render(2 + round, false,
            withChange(last.mapped.live, key, "{\"v\":\"changed\"}"), null, last.mapped.echoes(), null, 0);
        last.close();
        last = next;
        assertThat(last.mapped.echoes().hashes()).as("round %d", round)
            .hasSize(entries.size() + round + 1) // the previous ones, kept, and the changed entry's new pair
            .contains(oldPair);
        assertEveryPairIsAnEcho(last.mapped);
      }
    } finally {
      last.close();
    }
  }

  /** {@code k0 ... k<n-1>}, each holding its number. */
  private static Map<String, String> numbered(int n) {
    Map<String, String> entries = new java.util.HashMap<>();
    for (int i = 0; i < n; i++) {
      entries.put("k" + i, "{\"v\":" + i + "}");
    }
    return entries;
  }

  /** {@code table}'s entries copied, and {@code key}'s value replaced by {@code value}. */
  private static SnapshotFile.Source withChange(SnapshotFile.Table table, String key, String value) {
    SnapshotFile.Source copied = SnapshotFileTest.source(table, List.of(key));
    return new SnapshotFile.Source() {
      @Override public long expiryMillis() {
        return table.expiryMillis;
      }

      @Override public long count() {
        return table.count;
      }

      @Override public void forEach(SnapshotFile.EntryVisitor visitor) throws IOException {
        copied.forEach(visitor);
        visitor.visit(key, Encoded.of(value.getBytes(UTF_8), 0));
      }
    };
  }

  static void assertEveryPairIsAnEcho(SnapshotFile s) throws IOException {
    int[] n = {0};
    s.live.forEach(new SnapshotFile.EntryVisitor() {
      @Override public void visit(String key, Encoded value) {
        assertThat(s.isEcho(key, value, SnapshotFile.pairHash(key, value))).as(key).isTrue();
        n[0]++;
      }
    }, List.of());
    assertThat(n[0]).isEqualTo(s.live.count);
  }

  @Test
  void recordsAppendedAfterTheRenderAreCarriedAndTheOldJournalIsSealed() throws Exception {
    JournalFile old = create(Map.of("a", "1"), 1);
    old.append(SnapshotAndJournalTest.batch("w", 1, put("b", "2")));
    long renderedUpTo = old.size();
    old.append(SnapshotAndJournalTest.batch("w", 2, put("c", "3"))); // after the render began
    try (Compactor.Rendered r = compactor.render(2, false, SnapshotFileTest.source(Map.of("a", "1", "b", "2"),
        9_000_000_000_000L), null, SnapshotFile.EchoHashes.NONE, old, renderedUpTo)) {
      assertThat(r.carried).as("carried ahead by the render").isEqualTo(old.size() - renderedUpTo);
      old.append(SnapshotAndJournalTest.batch("w", 3, put("d", "4"))); // after the render, before the switch
      state.lock();
      JournalFile next;
      try {
        next = compactor.commit(r);
      } finally {
        state.unlock();
      }
      assertThat(next.generation).isEqualTo(2);
      String carried = new String(next.read(next.headerLength, next.size()), UTF_8);
      assertThat(carried).contains("[\"p\",\"c\"", "[\"p\",\"d\"").doesNotContain("[\"p\",\"b\"");
      assertThat(carried.indexOf("[\"p\",\"c\"")).as("in the order appended")
          .isLessThan(carried.indexOf("[\"p\",\"d\""));
      assertThat(next.carriedBytes).isEqualTo(next.size() - next.headerLength);
      String sealed = new String(old.read(0, old.size()), UTF_8);
      assertThat(sealed).contains("[\"s\",2,\"compactor\"," + renderedUpTo + "]"); // what snapshot 2 lacks starts there
      assertThat(state.generation()).isEqualTo(2);
      assertThat(Files.readString(names.json())).contains("\"generation\": 2");
      next.close();
    }
    old.close();
  }

  @Test
  void anExportRewrittenByAnotherProgramStopsTheSwitchBeforeItChangesAnything() throws Exception {
    JournalFile old = create(Map.of("a", "1"), 1);
    long before = old.size();
    Files.writeString(names.json(), "{\"expiry\": 1, \"data\": {\"py\": 1}}"); // the Python SDK's save()
    try (Compactor.Rendered r = compactor.render(2, false, SnapshotFileTest.source(Map.of("a", "1"),
        9_000_000_000_000L), null, SnapshotFile.EchoHashes.NONE, old, before)) {
      state.lock();
      try {
        assertThatThrownBy(() -> compactor.commit(r))
            .isInstanceOf(Compactor.ExportChangedException.class);
      } finally {
        state.unlock();
      }
    }
    assertThat(old.size()).as("no seal").isEqualTo(before);
    assertThat(state.generation()).isEqualTo(1);
    assertThat(state.switching()).isZero();
    assertThat(Files.readString(names.json())).contains("\"py\"");
    try (var files = Files.list(dir)) {
      assertThat(files.filter(f -> f.toString().endsWith(".tmp"))).as("temporaries").isEmpty();
    }
    old.close();
  }
}
