package io.tiercache;

import static io.tiercache.JsonProcesses.TTL;
import static io.tiercache.JsonProcesses.json;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * A fleet mid-upgrade: an older tiercache (journal format 2) made the journal and still appends to it.
 * What this version appends there must be what that version reads: it takes a line it cannot parse for
 * a damaged one and drops the batch that holds it. The older version's grammar is written out here
 * ({@link Format2Reader}), as it stood at 98580f3, so that the test needs no build of it.
 */
class MixedVersionTest {
  @RegisterExtension final JsonProcesses processes = new JsonProcesses();
  final FakeClock clock = processes.clock;

  /**
   * The journal as an older tiercache leaves it: a format 2 header extending the snapshot in place,
   * no records (the snapshot holds them).
   */
  Path format2Journal() throws IOException {
    JsonFileStore a = processes.open();
    a.await(a.put("a", json("1")));
    a.flush();
    a.close();
    Path journal = processes.dir().resolve("shared.journal");
    String header = Files.readString(journal).lines().findFirst().orElseThrow();
    Matcher m = Pattern.compile("\\[\"h\",3,(\\d+),").matcher(header);
    assertThat(m.find()).as("a format 3 header: " + header).isTrue();
    Files.write(journal, Format2Reader.line("[\"h\",2," + m.group(1) + ",0" + " ".repeat(18) + "]"));
    return journal;
  }

  @Test
  void aRolloverIntoAFormat2JournalIsWrittenInFormat2AndItsBatchIsReadByAFormat2Reader() throws IOException {
    Path journal = format2Journal();
    JsonFileStore store = processes.open(b -> b.staleIfError(Duration.ofHours(1)));
    clock.advance(TTL.plusSeconds(10));
    store.await(store.put("b", json("2"))); // a new period: a rollover, then b, in one batch; acknowledged
    Format2Reader old = Format2Reader.read(Files.readAllBytes(journal));
    assertThat(old.damaged).as("lines a format 2 reader takes for damaged").isEmpty();
    assertThat(old.puts).as("the puts of the batches a format 2 reader applies").containsExactly("b");
    assertThat(old.clears).as("the rollover, as format 2 writes it").hasSize(1);
    assertThat(old.clears.get(0)).matches("\\[\"c\",[0-9.]+,1\\]");
    assertThat(processes.open().get("b")).as("b for another process of this version").isNotNull();
    assertThat(store.getStale("a")).as("a kept for stale-if-error").isNotNull();
  }

  @Test
  void aCompactionSealsAFormat2JournalWithAFormat2Seal() throws IOException {
    Path journal = format2Journal();
    JsonFileStore store = processes.open();
    store.await(store.put("b", json("2")));
    Path replaced = processes.dir().resolve("replaced-journal");
    Files.createLink(replaced, journal); // the file an older tiercache holds open
    store.flush(); // compacts: seals it, and a format 3 journal replaces it
    Format2Reader old = Format2Reader.read(Files.readAllBytes(replaced));
    assertThat(old.damaged).as("lines a format 2 reader takes for damaged").isEmpty();
    assertThat(old.seals).as("the seals a format 2 reader sees (and moves on at)").hasSize(1);
    assertThat(Files.readString(journal).lines().findFirst().orElseThrow()).as("the new journal's header")
        .contains("[\"h\",3,");
    JsonFileStore fresh = processes.open();
    assertThat(fresh.get("a")).isNotNull();
    assertThat(fresh.get("b")).isNotNull();
  }

  /** The lines of a journal as tiercache 98580f3 (format 2) parses them. */
  static final class Format2Reader {
    private static final String NUM = "-?[0-9]+(\\.[0-9]+)?([eE][-+]?[0-9]+)?";
    private static final String STR = "\"([^\"\\\\]|\\\\.)*\"";
    private static final Pattern HEADER = Pattern.compile("\\[\"h\",[12],[0-9]+(,[0-9]+ *)?\\]");
    private static final Pattern BATCH = Pattern.compile("\\[\"b\"," + STR + ",[0-9]+,([0-9]+)\\]");
    private static final Pattern PUT = Pattern.compile("\\[\"p\",(" + STR + "),.*\\]");
    private static final Pattern REMOVE = Pattern.compile("\\[\"r\"," + STR + "\\]");
    private static final Pattern CLEAR = Pattern.compile("\\[\"c\"," + NUM + "(,[01])?\\]");
    private static final Pattern EXPIRY = Pattern.compile("\\[\"e\"," + NUM + "\\]");
    private static final Pattern SEAL = Pattern.compile("\\[\"s\",[0-9]+(," + STR + ")?\\]");

    final List<String> damaged = new ArrayList<>();
    final List<String> puts = new ArrayList<>();
    final List<String> clears = new ArrayList<>();
    final List<String> seals = new ArrayList<>();

    static byte[] line(String body) {
      CRC32C crc = new CRC32C();
      byte[] b = body.getBytes(StandardCharsets.UTF_8);
      crc.update(b);
      return (String.format("%08x", crc.getValue()) + " " + body + "\n").getBytes(StandardCharsets.UTF_8);
    }

    /** Applies whole batches only; a damaged line drops the batch it is in. */
    static Format2Reader read(byte[] journal) {
      Format2Reader r = new Format2Reader();
      List<String> lines = new String(journal, StandardCharsets.UTF_8).lines().filter(l -> !l.isEmpty()).toList();
      assertThat(HEADER.matcher(body(lines.get(0))).matches()).as("a format 2 header: " + lines.get(0)).isTrue();
      for (int i = 1; i < lines.size(); i++) {
        String body = body(lines.get(i));
        Matcher batch = BATCH.matcher(body);
        if (batch.matches()) {
          int n = Integer.parseInt(batch.group(2));
          List<String> puts = new ArrayList<>();
          List<String> clears = new ArrayList<>();
          boolean whole = true;
          for (int k = 0; k < n; k++) {
            String record = body(lines.get(++i));
            Matcher put = PUT.matcher(record);
            if (put.matches()) {
              puts.add(put.group(1).substring(1, put.group(1).length() - 1));
            } else if (CLEAR.matcher(record).matches()) {
              clears.add(record);
            } else if (!REMOVE.matcher(record).matches() && !EXPIRY.matcher(record).matches()) {
              r.damaged.add(record);
              whole = false;
            }
          }
          if (whole) {
            r.puts.addAll(puts);
            r.clears.addAll(clears);
          }
        } else if (SEAL.matcher(body).matches()) {
          r.seals.add(body);
        } else {
          r.damaged.add(body);
        }
      }
      return r;
    }

    /** The line's body, or a marker that fails every pattern when its checksum does not match. */
    private static String body(String line) {
      String body = line.substring(9);
      CRC32C crc = new CRC32C();
      crc.update(body.getBytes(StandardCharsets.UTF_8));
      return String.format("%08x", crc.getValue()).equals(line.substring(0, 8)) ? body : "checksum mismatch: " + line;
    }
  }
}
