package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The indexed snapshot: what is written is found, exported byte for byte as Python writes it, and checked. */
class SnapshotFileTest {
  @TempDir Path dir;

  static SnapshotFile.Source source(Map<String, String> entries, long expiry) {
    return new SnapshotFile.Source() {
      @Override public long expiryMillis() {
        return expiry;
      }

      @Override public long count() {
        return entries.size();
      }

      @Override public void forEach(SnapshotFile.EntryVisitor visitor) throws IOException {
        for (Map.Entry<String, String> e : entries.entrySet()) {
          visitor.visit(e.getKey(), Encoded.of(e.getValue().getBytes(UTF_8), 0));
        }
      }
    };
  }

  SnapshotFile write(Path file, long generation, boolean fresh, Map<String, String> live, Map<String, String> stale,
      long[] echoes, List<Long> pairHashes) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      SnapshotFile.write(ch, generation, fresh, source(live, 1_767_229_200_873L),
          stale == null ? null : source(stale, 1_000_000), SnapshotFileTest.echoes(new SnapshotFile.EchoHashes(echoes, false, null)),
          pairHashes::add);
      return SnapshotFile.map(file, ch);
    }
  }

  /** Writes {@code hashes} as the echo hashes, and hashes every entry. */
  static SnapshotFile.Echoes echoes(SnapshotFile.EchoHashes hashes) {
    return new SnapshotFile.Echoes() {
      @Override public SnapshotFile.EchoHashes get() {
        return hashes;
      }

      @Override public SnapshotFile.Table hashed() {
        return null;
      }
    };
  }

  /** The entries of {@code table} but those of {@code except}, as a compaction writes them from it. */
  static SnapshotFile.Source source(SnapshotFile.Table table, java.util.Collection<String> except) {
    return new SnapshotFile.Source() {
      @Override public long expiryMillis() {
        return table.expiryMillis;
      }

      @Override public long count() {
        long[] n = {0};
        try {
          table.forEach(new SnapshotFile.EntryVisitor() {
            @Override public void visit(String key, Encoded value) {
              throw new AssertionError("decoded");
            }

            @Override public void visitSlot(SnapshotFile.Table t, long slot) {
              n[0]++; // counted without reading the entry: the copy is what must find a damage
            }
          }, except);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
        return n[0];
      }

      @Override public void forEach(SnapshotFile.EntryVisitor visitor) throws IOException {
        table.forEach(visitor, except);
      }
    };
  }

  /** Writes a snapshot of {@code source} to {@code file}; returns its pair hashes. */
  static List<Long> rewrite(Path file, SnapshotFile.Source source) throws IOException {
    List<Long> hashes = new ArrayList<>();
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      SnapshotFile.write(ch, 2, false, source, null, SnapshotFileTest.echoes(SnapshotFile.EchoHashes.NONE), hashes::add);
    }
    return hashes;
  }

  static String text(Encoded e) {
    return new String(e.buf, e.offset, e.length, UTF_8);
  }

  static Encoded find(SnapshotFile.Table t, String key) {
    byte[] q = SnapshotFile.quoted(key);
    long slot = t.find(q, q.length, SnapshotFile.hash(q, 0, q.length));
    return slot < 0 ? null : t.value(slot);
  }

  @Test
  void everyEntryIsFoundByItsKeyAndAbsentKeysAreNot() throws Exception {
    Map<String, String> live = new LinkedHashMap<>();
    for (int i = 0; i < 5_000; i++) {
      live.put("model-" + i + (i % 7 == 0 ? "-\u00e9\u4e2d\ud83d\ude00 \"q\"" : ""), "{\"i\":" + i + ",\"t\":[\"x\"]}");
    }
    List<Long> hashes = new ArrayList<>();
    SnapshotFile s = write(dir.resolve("m.snapshot"), 12, false, live, null, new long[0], hashes);
    assertThat(s.generation).isEqualTo(12);
    assertThat(s.fresh).isFalse();
    assertThat(s.live.count).isEqualTo(5_000);
    assertThat(s.live.expiryMillis).isEqualTo(1_767_229_200_873L);
    assertThat(s.stale.present()).isFalse();
    for (Map.Entry<String, String> e : live.entrySet()) {
      assertThat(SnapshotAndJournalTest.compact(text(find(s.live, e.getKey())))).as(e.getKey()).isEqualTo(e.getValue());
    }
    assertThat(find(s.live, "model-5000")).isNull();
    assertThat(find(s.live, "")).isNull();
    assertThat(hashes).hasSize(5_000).doesNotHaveDuplicates();
    Map<String, String> visited = new LinkedHashMap<>();
    s.live.forEach((k, v) -> visited.put(k, SnapshotAndJournalTest.compact(text(v))));
    assertThat(visited).isEqualTo(live);
  }

  @Test
  void theExportIsWhatPythonJsonDumpWritesForTheSameData() throws Exception {
    Map<String, String> live = new LinkedHashMap<>();
    live.put("m1", "{\"id\":\"m1\",\"name\":\"caf\\u00e9\",\"tags\":[],\"meta\":{\"n\":NaN}}");
    live.put("m2", "[1,2.5,null,true]");
    SnapshotFile s = write(dir.resolve("m.snapshot"), 3, false, live, null, new long[0], new ArrayList<>());
    Path export = dir.resolve("m.json");
    try (FileChannel src = FileChannel.open(dir.resolve("m.snapshot"));
        FileChannel dst = FileChannel.open(export, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      s.exportTo(src, dst);
    }
    String python = PythonFormatTest.python("import json,sys\n"
        + "d=json.load(open(sys.argv[1]))\n"
        + "sys.stdout.write(json.dumps(d, indent=4))\n", export.toString());
    assertThat(Files.readString(export, UTF_8)).isEqualTo(python);
    assertThat(python).contains("\"tiercache\": {\n        \"version\": 2,\n        \"generation\": 3\n    }");
  }

  @Test
  void theStaleTableAndTheEchoHashesAreKept() throws Exception {
    Map<String, String> stale = Map.of("old", "{\"v\":1}");
    Encoded exported = Encoded.of("{\"v\":2}".getBytes(UTF_8), 0);
    long[] echoes = {-5, 3, 99, SnapshotFile.pairHash("k", exported), Long.MAX_VALUE};
    Arrays.sort(echoes);
    SnapshotFile s = write(dir.resolve("m.snapshot"), 2, true, Map.of(), stale, echoes, new ArrayList<>());
    assertThat(s.fresh).isTrue();
    assertThat(s.live.count).isZero();
    assertThat(s.stale.present()).isTrue();
    assertThat(s.stale.expiryMillis).isEqualTo(1_000_000);
    assertThat(text(find(s.stale, "old"))).contains("\"v\": 1");
    assertThat(s.echoes().hashes()).containsExactly(echoes);
    assertThat(s.echoes().format1()).isFalse();
    assertThat(s.isEcho("k", exported, SnapshotFile.pairHash("k", exported))).isTrue();
    Encoded other = Encoded.of("{\"v\":3}".getBytes(UTF_8), 0);
    assertThat(s.isEcho("k", other, SnapshotFile.pairHash("k", other))).isFalse();
  }

  @Test
  void echoHashesVouchForTheLiveEntriesOnlyWhileIntact() throws Exception {
    Path file = dir.resolve("e.snapshot");
    long[] echoes = {-5, 3, 99};
    SnapshotFile s = write(file, 2, false, Map.of("k", "1"), null, echoes, new ArrayList<>());
    assertThat(s.echoes().live()).isSameAs(s.live);
    // One bit of one echo hash flipped on disk: the hashes are what the file holds, and vouch for nothing.
    long at = java.nio.ByteBuffer.wrap(Files.readAllBytes(file)).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong(120);
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer b = ByteBuffer.allocate(1);
      ch.read(b, at + 9);
      b.put(0, (byte) (b.get(0) ^ 1)).rewind();
      ch.write(b, at + 9);
      SnapshotFile damaged = SnapshotFile.map(file, ch);
      assertThat(damaged.echoes().hashes()).hasSize(3).isNotEqualTo(echoes);
      assertThat(damaged.echoes().live()).isNull();
    }
  }

  @Test
  void echoHashesCarriedFromFormat1AreRecognizedWhileFlagged() throws Exception {
    // Format 1 hashed the pairs with FNV-1a; a snapshot carrying those hashes says so in its flags,
    // and a pair is then looked for with both hashes.
    Encoded exported = Encoded.of("{\"v\":1}".getBytes(UTF_8), 0);
    long[] format1 = {SnapshotFile.format1PairHash("k", exported)};
    assertThat(format1[0]).isNotEqualTo(SnapshotFile.pairHash("k", exported));
    for (boolean flagged : new boolean[] {true, false}) {
      Path file = dir.resolve("f" + flagged + ".snapshot");
      try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
          StandardOpenOption.WRITE)) {
        SnapshotFile.write(ch, 2, false, source(Map.of(), 1_000), null,
            SnapshotFileTest.echoes(new SnapshotFile.EchoHashes(format1, flagged, null)), h -> { });
        SnapshotFile s = SnapshotFile.map(file, ch);
        assertThat(s.echoes().format1()).isEqualTo(flagged);
        assertThat(s.isEcho("k", exported, SnapshotFile.pairHash("k", exported))).as("flagged " + flagged)
            .isEqualTo(flagged);
      }
    }
  }

  @Test
  void theEchoHashIsXxh64AsAnotherImplementationComputesIt() {
    // The reference: chronicle-algorithms' XXH64 (r39), on the classpath through Chronicle Map.
    net.openhft.chronicle.algo.hashing.LongHashFunction reference =
        net.openhft.chronicle.algo.hashing.LongHashFunction.xx_r39();
    java.util.Random random = new java.util.Random(7);
    for (int len = 0; len <= 300; len++) {
      for (int off : new int[] {0, 1, 7}) {
        byte[] b = new byte[off + len + 3];
        random.nextBytes(b);
        byte[] exact = Arrays.copyOfRange(b, off, off + len);
        assertThat(SnapshotFile.xxh64(b, off, len)).as("length %d at %d", len, off)
            .isEqualTo(reference.hashBytes(exact));
      }
    }
    // And the specification's own value for no input.
    assertThat(SnapshotFile.xxh64(new byte[0], 0, 0)).isEqualTo(0xEF46DB3751D8E999L);
  }

  @Test
  void aSnapshotWrittenFromAnotherSnapshotsValuesIsTheSameByteForByte() throws Exception {
    // A compaction copies the values it reads from the snapshot as they stand instead of laying them
    // out again: that must give the bytes laying them out gives, and the same pair hashes.
    Map<String, String> live = new LinkedHashMap<>();
    live.put("nested", "{\"a\":[1,{\"b\":\"c, d: {e}\"},[]],\"f\":{},\"g\":\"\\\"q\\\" \\u00e9\"}");
    live.put("scalars", "[1,2.5e-3,null,true,false,\"\"]");
    live.put("number", "-0.5");
    live.put("deep", "[".repeat(JsonText.MAX_INDENTED_DEPTH + 3) + "1" + "]".repeat(JsonText.MAX_INDENTED_DEPTH + 3));
    SnapshotFile first = write(dir.resolve("first.snapshot"), 1, false, live, null, new long[0], new ArrayList<>());
    Map<String, String> inTableOrder = new LinkedHashMap<>();
    first.live.forEach((k, v) -> inTableOrder.put(k, live.get(k)));
    List<Long> laidOutHashes = new ArrayList<>();
    write(dir.resolve("laid-out.snapshot"), 2, false, inTableOrder, null, new long[0], laidOutHashes);
    // Its entries copied as they stand, keys and all (SnapshotFile.Table.copyEntry), not decoded.
    List<Long> copiedHashes = rewrite(dir.resolve("copied.snapshot"), source(first.live, List.of()));
    assertThat(Files.readAllBytes(dir.resolve("copied.snapshot")))
        .isEqualTo(Files.readAllBytes(dir.resolve("laid-out.snapshot")));
    assertThat(copiedHashes).isEqualTo(laidOutHashes);
    // Less the entries a newer change shadows: found by probing for their keys.
    inTableOrder.remove("scalars");
    write(dir.resolve("laid-out-less.snapshot"), 2, false, inTableOrder, null, new long[0], new ArrayList<>());
    rewrite(dir.resolve("copied-less.snapshot"), source(first.live, List.of("scalars", "absent")));
    assertThat(Files.readAllBytes(dir.resolve("copied-less.snapshot")))
        .isEqualTo(Files.readAllBytes(dir.resolve("laid-out-less.snapshot")));
    for (String key : live.keySet()) {
      assertThat(SnapshotFile.pairHash(key, find(first.live, key))).as(key)
          .isEqualTo(SnapshotFile.pairHash(key, Encoded.of(live.get(key).getBytes(UTF_8), 0)));
    }
  }

  @Test
  void aPairHashIsTheSameForAValueWhateverItsLayout() {
    Encoded compact = Encoded.of("{\"a\":[1,{\"b\":\"c d\"}]}".getBytes(UTF_8), 0);
    Encoded indented = Encoded.of("{\n            \"a\": [\n   1, {\"b\":  \"c d\"}]}".getBytes(UTF_8), 0);
    assertThat(SnapshotFile.pairHash("k", compact)).isEqualTo(SnapshotFile.pairHash("k", indented))
        .isNotEqualTo(SnapshotFile.pairHash("k2", compact));
  }

  @Test
  void aDamagedOrForeignFileIsRefusedAtItsHeader() throws Exception {
    Path file = dir.resolve("m.snapshot");
    write(file, 1, false, Map.of("a", "1"), null, new long[0], new ArrayList<>());
    byte[] good = Files.readAllBytes(file);

    byte[] flipped = good.clone();
    flipped[20] ^= 1; // the generation
    assertThatThrownBy(() -> map(flipped)).isInstanceOf(SnapshotFile.DamagedException.class)
        .hasMessageContaining("checksum");
    byte[] newer = good.clone();
    newer[8] = 9; // the format version
    assertThatThrownBy(() -> map(newer)).hasMessageContaining("format 9").hasMessageContaining("newer tiercache");
    assertThatThrownBy(() -> map("{\"expiry\": 1, \"data\": {}}".getBytes(UTF_8)))
        .hasMessageContaining("not a tiercache snapshot");
    assertThatThrownBy(() -> map(java.util.Arrays.copyOf(good, 300))).hasMessageContaining("outside the file");
    // Numbers whose sums wrap, under a valid checksum: 2^61 slots of 24 bytes, a JSON length near 2^63.
    assertThatThrownBy(() -> map(withHeaderLong(good, 24 + 16, 1L << 61))).hasMessageContaining("outside the file");
    assertThatThrownBy(() -> map(withHeaderLong(good, 24 + 40, Long.MAX_VALUE - 100)))
        .hasMessageContaining("outside the file");
    assertThatThrownBy(() -> map(withHeaderLong(withHeaderLong(good, 128, 1), 120, Long.MAX_VALUE - 4)))
        .hasMessageContaining("echo hashes");
  }

  /** {@code file} with the header's long at {@code at} set to {@code value} and its checksum made valid. */
  private static byte[] withHeaderLong(byte[] file, int at, long value) {
    ByteBuffer b = ByteBuffer.wrap(file.clone()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    b.putLong(at, value);
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    crc.update(b.array(), 0, SnapshotFile.HEADER_BYTES - 8);
    b.putInt(SnapshotFile.HEADER_BYTES - 8, (int) crc.getValue());
    return b.array();
  }

  @Test
  void anIndexSlotPointingOutsideItsTableIsNamedWhenUsed() throws Exception {
    Path file = dir.resolve("m.snapshot");
    SnapshotFile s = write(file, 1, false, Map.of("a", "1"), null, new long[0], new ArrayList<>());
    byte[] b = Files.readAllBytes(file);
    // Find the one used slot and point its key past the file's end.
    ByteBuffer bb = ByteBuffer.wrap(b).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    long indexOffset = bb.getLong(24 + 24);
    long slots = bb.getLong(24 + 16);
    for (long i = 0; i < slots; i++) {
      int at = (int) (indexOffset + i * SnapshotFile.SLOT_BYTES);
      if (bb.getInt(at) != 0) {
        bb.putLong(at + 8, 1L << 40);
      }
    }
    SnapshotFile broken = map(b);
    assertThatThrownBy(() -> find(broken.live, "a")).isInstanceOf(SnapshotFile.DamagedEntryException.class)
        .hasMessageContaining("outside its table");
    assertThat(text(find(s.live, "a"))).isEqualTo("1");
  }

  @Test
  void aNegativeValueLengthIsADamagedEntry() throws Exception {
    Path file = dir.resolve("m.snapshot");
    write(file, 1, false, Map.of("a", "1"), null, new long[0], new ArrayList<>());
    ByteBuffer bb = ByteBuffer.wrap(Files.readAllBytes(file)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
    long indexOffset = bb.getLong(24 + 24);
    long slots = bb.getLong(24 + 16);
    for (long i = 0; i < slots; i++) {
      int at = (int) (indexOffset + i * SnapshotFile.SLOT_BYTES);
      if (bb.getInt(at) != 0) {
        bb.putInt(at + 4, -1); // still "inside the table" once added to the value's offset
      }
    }
    SnapshotFile broken = map(bb.array());
    assertThatThrownBy(() -> find(broken.live, "a")).isInstanceOf(SnapshotFile.DamagedEntryException.class)
        .hasMessageContaining("negative length");
    assertThat(broken.live.forEachIntact((k, v) -> { })).isEqualTo(1);
  }

  @Test
  void aDamagedValueFailsItsChecksumInsteadOfBeingServed() throws Exception {
    Path file = dir.resolve("m.snapshot");
    write(file, 1, false, Map.of("a", "{\"n\":12345}", "b", "2"), null, new long[0], new ArrayList<>());
    byte[] b = Files.readAllBytes(file);
    String text = new String(b, UTF_8);
    int digit = text.indexOf("12345");
    b[digit] = '9'; // still valid JSON: only the checksum can tell
    SnapshotFile damaged = map(b);
    assertThatThrownBy(() -> find(damaged.live, "a")).isInstanceOf(SnapshotFile.DamagedEntryException.class)
        .hasMessageContaining("fails its checksum");
    assertThat(text(find(damaged.live, "b"))).isEqualTo("2");
    Map<String, String> intact = new LinkedHashMap<>();
    assertThat(damaged.live.forEachIntact((k, v) -> intact.put(k, text(v)))).isEqualTo(1);
    assertThat(intact).containsOnlyKeys("b");
    assertThatThrownBy(() -> rewrite(dir.resolve("from-damaged.snapshot"), source(damaged.live, List.of())))
        .as("a compaction copying it as it stands").isInstanceOf(SnapshotFile.DamagedEntryException.class)
        .hasMessageContaining("fails its checksum");
  }

  @Test
  void aDamagedKeyIsNeverVisitedAsAnotherKey() throws Exception {
    Path file = dir.resolve("m.snapshot");
    write(file, 1, false, Map.of("key-a", "1", "key-b", "2"), null, new long[0], new ArrayList<>());
    byte[] b = Files.readAllBytes(file);
    int at = new String(b, UTF_8).indexOf("\"key-a\"") + 5;
    b[at] = 'z'; // "key-z": still a JSON string; only the index entry's hash can tell
    SnapshotFile damaged = map(b);
    assertThatThrownBy(() -> damaged.live.forEach((k, v) -> { }))
        .isInstanceOf(SnapshotFile.DamagedEntryException.class).hasMessageContaining("does not match its index entry");
    Map<String, String> intact = new LinkedHashMap<>();
    assertThat(damaged.live.forEachIntact((k, v) -> intact.put(k, text(v)))).isEqualTo(1);
    assertThat(intact).containsOnlyKeys("key-b");
    assertThatThrownBy(() -> rewrite(dir.resolve("from-damaged.snapshot"), source(damaged.live, List.of())))
        .as("a compaction copying it as it stands").isInstanceOf(SnapshotFile.DamagedEntryException.class)
        .hasMessageContaining("does not match its index entry");
    b[at] = '"'; // "key-": a key that is no longer a JSON string of its length
    SnapshotFile broken = map(b);
    assertThatThrownBy(() -> broken.live.forEach((k, v) -> { }))
        .isInstanceOf(SnapshotFile.DamagedEntryException.class);
  }

  private SnapshotFile map(byte[] bytes) throws IOException {
    Path f = Files.createTempFile(dir, "x", ".snapshot");
    Files.write(f, bytes);
    try (FileChannel ch = FileChannel.open(f)) {
      return SnapshotFile.map(f, ch);
    }
  }
}
