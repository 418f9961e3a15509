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

/** The byte-level formats: snapshot indexing and rendering, journal lines, re-indenting. */
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
        "{\"expiry\": 1, \"data\": {\"a\": \"bad \\q escape\"}}", "{\"expiry\": 1e999, \"data\": {}}")) {
      assertThatThrownBy(() -> parse(bad)).as(bad).isInstanceOf(MalformedJsonException.class);
    }
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

  @Test
  void journalLinesRoundTripAndDetectDamage() {
    byte[] value = "{\"id\":\"k\",\"s\":\"line\\nbreak\"}".getBytes(UTF_8);
    ByteSink j = new ByteSink(256);
    j.write(Journal.header(7, 0));
    j.write(Journal.header(8, 4096));
    j.write(Journal.put("k\u00e9", value, 0, value.length));
    j.write(Journal.remove("gone"));
    j.write(Journal.clear(1_000_500));
    byte[] damaged = Journal.put("d", value, 0, value.length);
    damaged[20] ^= 0x01;
    j.write(damaged);
    j.write(Journal.put("after", value, 0, value.length));
    byte[] torn = Journal.put("torn", value, 0, value.length);
    j.write(torn, 0, torn.length - 5);

    List<String> seen = new ArrayList<>();
    int consumed = Journal.scan(j.array(), j.size(), 100, new Journal.Visitor() {
      @Override public void header(long generation, long carriedBytes) {
        seen.add("h" + generation + (carriedBytes > 0 ? "+" + carriedBytes : ""));
      }
      @Override public void put(String key, Encoded v) {
        seen.add("p " + key + " " + value(v));
      }
      @Override public void remove(String key) {
        seen.add("r " + key);
      }
      @Override public void clear(long expiryMillis) {
        seen.add("c " + expiryMillis);
      }
      @Override public void corrupt(long fileOffset, String reason) {
        seen.add("corrupt " + reason);
      }
    });
    assertThat(seen).containsExactly("h7", "h8+4096", "p ké " + new String(value, UTF_8), "r gone", "c 1000500",
        "corrupt checksum mismatch", "p after " + new String(value, UTF_8));
    assertThat(consumed).isEqualTo(j.size() - (torn.length - 5));
  }

  @Test
  void randomGarbageNeverEscapesAsAnythingButMalformedJson() {
    Random random = new Random(42);
    byte[] valid = JsonFileStoreTest.PYTHON_WRITTEN.getBytes(UTF_8);
    for (int i = 0; i < 2_000; i++) {
      byte[] b = valid.clone();
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
      Journal.scan(b, length, 0, new Journal.Visitor() {
        @Override public void header(long generation, long carriedBytes) {}
        @Override public void put(String key, Encoded v) {}
        @Override public void remove(String key) {}
        @Override public void clear(long expiryMillis) {}
        @Override public void corrupt(long fileOffset, String reason) {}
      });
    }
  }
}
