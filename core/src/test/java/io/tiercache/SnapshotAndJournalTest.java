package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tiercache.JsonText.MalformedJsonException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The byte-level formats: the Python SDK's snapshot text, journal lines and batches, re-indenting. */
class SnapshotAndJournalTest {

  static Snapshot parse(String json) throws MalformedJsonException {
    byte[] b = json.getBytes(UTF_8);
    return Snapshot.parse(b, b.length);
  }

  static String value(Encoded e) {
    return new String(e.buf, e.offset, e.length, UTF_8);
  }

  @Test
  void indexesEntriesByByteRangeWithoutDecodingThem() throws Exception {
    Snapshot s = parse(JsonFileStoreTest.PYTHON_WRITTEN);
    assertThat(s.expiryMillis).isEqualTo(1767229200873L);
    assertThat(s.generation).isEqualTo(Snapshot.FOREIGN);
    assertThat(s.entries).containsOnlyKeys("m1");
    assertThat(value(s.entries.get("m1"))).startsWith("{\n            \"id\": \"m1\"").endsWith("}");
  }

  @Test
  void ignoresOtherTopLevelKeysAndReadsItsGeneration() throws Exception {
    Snapshot s = parse("{\"other\": [1, {\"x\": null}], \"expiry\": 5, \"data\": {\"k\\u00e9\": 1},"
        + " \"tiercache\": {\"version\": 1, \"generation\": 42}}");
    assertThat(s.generation).isEqualTo(42);
    assertThat(s.entries).containsOnlyKeys("ké");
    assertThat(s.expiryMillis).isEqualTo(5000);
  }

  @Test
  void rejectsEveryMalformedShape() {
    for (String bad : List.of("", "{", "{}", "[]", "{\"expiry\": 1}", "{\"data\": {}}",
        "{\"expiry\": 1, \"data\": {\"a\": }}", "{\"expiry\": 1, \"data\": {\"a\": tru}}",
        "{\"expiry\": 1, \"data\": {}} trailing", "{\"expiry\": \"x\", \"data\": {}}",
        "{\"expiry\": 1, \"data\": {\"a\": \"unterminated}}", "{\"expiry\": 1, \"data\": {\"a\": 1,}}",
        "{\"expiry\": 1, \"data\": {\"a\": \"bad \\q escape\"}}", "{\"expiry\": NaN, \"data\": {}}")) {
      assertThatThrownBy(() -> parse(bad)).as(bad).isInstanceOf(MalformedJsonException.class);
    }
  }

  @Test
  void anInfiniteExpiryNeverComesAsInPythonAndNaNIsRefused() throws Exception {
    assertThat(parse("{\"expiry\": 1e309, \"data\": {}}").expiryMillis).isEqualTo(Long.MAX_VALUE);
    assertThat(parse("{\"expiry\": Infinity, \"data\": {}}").expiryMillis).isEqualTo(Long.MAX_VALUE);
    assertThat(parse("{\"expiry\": -Infinity, \"data\": {}}").expiryMillis).isEqualTo(Long.MIN_VALUE);
    assertThatThrownBy(() -> parse("{\"expiry\": NaN, \"data\": {}}")).hasMessageContaining("NaN");
  }

  @Test
  void deepNestingIsSkippedWithoutRecursion() throws Exception {
    String deep = "[".repeat(200_000) + "]".repeat(200_000);
    Snapshot s = parse("{\"expiry\": 1, \"data\": {\"deep\": " + deep + "}}");
    assertThat(s.entries.get("deep").length).isEqualTo(deep.length());
    assertThatThrownBy(() -> parse("{\"expiry\": 1, \"data\": {\"deep\": " + "[".repeat(100_000) + "}}"))
        .isInstanceOf(MalformedJsonException.class);
  }

  @Test
  void renderedSnapshotsParseBackToTheSameEntries() throws Exception {
    Map<String, Encoded> entries = new java.util.LinkedHashMap<>();
    entries.put("a", Encoded.of("{\"x\":[1,2,{\"y\":\"z, {w}: \\\"q\\\"\"}],\"e\":{},\"l\":[]}".getBytes(UTF_8), 0));
    entries.put("caf\u00e9", Encoded.of("NaN".getBytes(UTF_8), 0));
    ByteSink out = Snapshot.render(1_767_229_200_873L, 3, entries.entrySet(), 0);
    String text = new String(out.toByteArray(), UTF_8);
    assertThat(text).contains("\"caf\\u00e9\": NaN").contains("\"expiry\": 1767229200.873")
        .contains("                    \"y\": \"z, {w}: \\\"q\\\"\"")
        .contains("\"e\": {},").contains("\"l\": []").doesNotEndWith("\n");
    Snapshot back = Snapshot.parse(out.array(), out.size());
    assertThat(back.generation).isEqualTo(3);
    assertThat(back.entries).containsOnlyKeys("a", "café");
    assertThat(compact(value(back.entries.get("a")))).isEqualTo(compact(value(entries.get("a"))));
  }

  /** Removes whitespace outside strings. */
  static String compact(String json) {
    ByteSink out = new ByteSink(json.length());
    byte[] b = json.getBytes(UTF_8);
    JsonText.writeIndented(out, b, 0, b.length, 0);
    return new String(out.toByteArray(), UTF_8).replaceAll("\n *", "").replace(": ", ":");
  }

  /** Records what a scan reports, one string per event. */
  static final class Recorder implements Journal.Visitor {
    final List<String> seen = new ArrayList<>();
    final boolean stopAtSeal;

    Recorder(boolean stopAtSeal) {
      this.stopAtSeal = stopAtSeal;
    }

    @Override public void header(int format, long generation, long carriedBytes) {
      seen.add("h" + format + ":" + generation + (carriedBytes > 0 ? "+" + carriedBytes : ""));
    }

    @Override public void batch(String writer, long number, List<Journal.Record> records) {
      StringBuilder s = new StringBuilder(writer == null ? "-" : writer + "#" + number);
      for (Journal.Record r : records) {
        s.append(' ').append((char) r.op());
        if (r.key() != null) {
          s.append(r.key());
        }
        if (r.value() != null) {
          s.append('=').append(value(r.value()));
        }
        if (r.op() == Journal.CLEAR || r.op() == Journal.EXPIRY) {
          s.append('@').append(r.millis()).append(r.keepStale() ? "+stale" : "");
          if (r.ends() != Long.MAX_VALUE) {
            s.append(" ending ").append(r.ends());
          }
        }
      }
      seen.add(s.toString());
    }

    @Override public boolean seal(long fileOffset, long generation, String writer, long renderedFrom) {
      seen.add("s" + generation + (renderedFrom >= 0 ? " from " + renderedFrom : "") + " by " + writer + " at "
          + fileOffset);
      return stopAtSeal;
    }

    @Override public void corrupt(long fileOffset, String reason) {
      seen.add("corrupt@" + fileOffset + " " + reason);
    }

    @Override public void interrupted(long fileOffset, String reason) {
      seen.add("interrupted@" + fileOffset);
    }
  }

  static byte[] batch(String writer, long number, byte[]... records) {
    ByteSink b = new ByteSink(256);
    b.write(Journal.batch(writer, number, records.length));
    for (byte[] r : records) {
      b.write(r);
    }
    return b.toByteArray();
  }

  static byte[] put(String key, String json) {
    byte[] v = json.getBytes(UTF_8);
    return Journal.put(key, v, 0, v.length);
  }

  @Test
  void batchesApplyWholeAndRecordsRoundTrip() {
    ByteSink j = new ByteSink(512);
    j.write(Journal.header(7, 0));
    j.write(batch("w1", 1, put("k\u00e9", "{\"s\":\"line\\nbreak\"}"), Journal.remove("gone")));
    j.write(batch("w2", 9, Journal.rollover(1_000_500, true, 900_000), Journal.expiry(2_000_000),
        Journal.rollover(3_000, false, 2_000), Journal.clear(4_000)));
    j.write(batch("w3", 1, crcLine("[\"c\",5000.0,1]"))); // format 2's rollover: a clear of any period
    j.write(put("legacy", "1")); // a format 1 record, outside any batch
    j.write(Journal.seal(8, "w1", 40));
    j.write(batch("w3", 2, put("late", "1")));
    j.write(crcLine("[\"s\",9,\"w2\"]")); // format 2's seal: says nothing of the render
    Recorder r = new Recorder(false);
    int consumed = Journal.scan(j.array(), j.size(), 0, r);
    assertThat(consumed).isEqualTo(j.size());
    assertThat(r.seen.subList(0, 5)).containsExactly("h3:7", "w1#1 pk\u00e9={\"s\":\"line\\nbreak\"} rgone",
        "w2#9 c@1000500+stale ending 900000 e@2000000 c@3000 ending 2000 c@4000", "w3#1 c@5000000+stale",
        "- plegacy=1");
    assertThat(r.seen.get(5)).startsWith("s8 from 40 by w1 at ");
    assertThat(r.seen.get(7)).startsWith("s9 by w2 at ");
  }

  @Test
  void aUnitCutShortIsInterruptedNotDamagedAndNothingOfItApplies() {
    ByteSink j = new ByteSink(512);
    j.write(Journal.header(1, 0));
    byte[] torn = batch("w1", 1, put("a", "1"), put("b", "2"));
    j.write(torn, 0, torn.length - 4); // killed in the middle of its write: the next unit terminates it
    j.write(batch("w2", 1, put("c", "3")));
    byte[] short2 = batch("w1", 2, put("d", "4"), put("e", "5"));
    int secondRecord = Journal.indexOf(short2, Journal.indexOf(short2, 1, short2.length, (byte) '\n') + 1,
        short2.length, (byte) '\n') + 1;
    j.write(short2, 0, secondRecord); // the marker announced two records; one was written
    j.write(batch("w2", 2, put("f", "6")));
    Recorder r = new Recorder(false);
    Journal.scan(j.array(), j.size(), 0, r);
    assertThat(r.seen).filteredOn(s -> !s.startsWith("h")).extracting(s -> s.replaceAll("@\\d+", ""))
        .containsExactly("interrupted", "interrupted", "w2#1 pc=3", "interrupted", "w2#2 pf=6");
    assertThat(r.seen).noneMatch(s -> s.startsWith("corrupt"));
  }

  @Test
  void aDamagedLineAmidIntactOnesIsReportedAndTheRestApplies() {
    ByteSink j = new ByteSink(512);
    j.write(Journal.header(1, 0));
    byte[] damaged = put("d", "{\"x\":1}");
    damaged[14] ^= 0x01;
    j.write(batch("w1", 1, put("a", "1"), damaged, put("b", "2"))); // rot inside a batch: the batch is lost
    j.write(batch("w1", 2, put("c", "3")));
    byte[] alone = put("z", "0");
    alone[12] ^= 0x01;
    j.write(alone); // a damaged format 1 record followed by another record
    j.write(put("after", "9"));
    Recorder r = new Recorder(false);
    Journal.scan(j.array(), j.size(), 0, r);
    assertThat(r.seen).filteredOn(s -> s.startsWith("corrupt")).hasSize(3)
        .anyMatch(s -> s.contains("checksum mismatch")).anyMatch(s -> s.contains("batch of 3 records broken"));
    assertThat(r.seen).contains("w1#2 pc=3", "- pafter=9").noneMatch(s -> s.contains("pa=1") || s.contains("pb=2"));
  }

  @Test
  void aPartialUnitAtTheEndIsLeftForTheNextScan() {
    ByteSink j = new ByteSink(512);
    j.write(Journal.header(1, 0));
    j.write(batch("w1", 1, put("a", "1")));
    int complete = j.size();
    byte[] next = batch("w1", 2, put("b", "2"), put("c", "3"));
    int partial = Journal.indexOf(next, Journal.indexOf(next, 1, next.length, (byte) '\n') + 1, next.length,
        (byte) '\n') + 1;
    j.write(next, 0, partial); // an append in progress, as a reader may see it
    Recorder r = new Recorder(false);
    assertThat(Journal.scan(j.array(), j.size(), 0, r)).isEqualTo(complete + 1); // up to the marker's line break
    assertThat(r.seen).containsExactly("h3:1", "w1#1 pa=1");
  }

  @Test
  void aScanStopsAfterASealWhenAsked() {
    ByteSink j = new ByteSink(512);
    j.write(Journal.header(3, 0));
    j.write(batch("w1", 1, put("a", "1")));
    int sealAt = j.size() + 1;
    j.write(Journal.seal(4, "w9", 0));
    int afterSeal = j.size();
    j.write(batch("w1", 2, put("late", "1")));
    Recorder r = new Recorder(true);
    assertThat(Journal.scan(j.array(), j.size(), 1000, r)).isEqualTo(afterSeal);
    assertThat(r.seen).containsExactly("h3:3", "w1#1 pa=1", "s4 from 0 by w9 at " + (1000 + sealAt));
  }

  @Test
  void aNonFiniteExpiryRecordIsDamagedAndAnInfiniteOneNeverComes() {
    ByteSink j = new ByteSink(256);
    j.write(Journal.header(1, 0));
    j.write(batch("w1", 1, crcLine("[\"c\",NaN]")));
    j.write(batch("w1", 2, crcLine("[\"e\",1e309]")));
    Recorder r = new Recorder(false);
    Journal.scan(j.array(), j.size(), 0, r);
    assertThat(r.seen).anyMatch(s -> s.startsWith("corrupt") && s.contains("NaN"))
        .contains("w1#2 e@" + Long.MAX_VALUE);
  }

  /** A line with a correct checksum around any body. */
  static byte[] crcLine(String body) {
    java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
    byte[] b = body.getBytes(UTF_8);
    crc.update(b);
    return (String.format("%08x", crc.getValue()) + " " + body + "\n").getBytes(UTF_8);
  }

  @Test
  void aJournalOfANewerFormatIsReportedAsSuchByTheHeader() {
    byte[] header = crcLine("[\"h\",4,7]");
    Recorder r = new Recorder(false);
    Journal.scan(header, header.length, 0, r);
    assertThat(r.seen).containsExactly("h4:7"); // JournalFile refuses to write to it (JournalFileTest)
  }

  @Test
  void randomGarbageNeverEscapesAsAnythingButMalformedJson() {
    Random random = new Random(42);
    byte[] valid = JsonFileStoreTest.PYTHON_WRITTEN.getBytes(UTF_8);
    ByteSink j = new ByteSink(512);
    j.write(Journal.header(1, 0));
    j.write(batch("w1", 1, put("a", "{\"x\":[1,2]}"), Journal.remove("b"), Journal.clear(5)));
    byte[] journal = j.toByteArray();
    for (int i = 0; i < 2_000; i++) {
      for (byte[] original : new byte[][] {valid, journal}) {
        byte[] b = original.clone();
        int flips = 1 + random.nextInt(4);
        for (int f = 0; f < flips; f++) {
          b[random.nextInt(b.length)] = (byte) random.nextInt(256);
        }
        int length = random.nextBoolean() ? b.length : random.nextInt(b.length);
        try {
          Snapshot.parse(b, length);
        } catch (MalformedJsonException expected) {
          // fine: detected
        }
        Journal.scan(b, length, 0, new Recorder(false));
      }
    }
  }
}
