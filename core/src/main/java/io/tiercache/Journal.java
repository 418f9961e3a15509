package io.tiercache;

import io.tiercache.JsonText.MalformedJsonException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * The journal, {@code <name>.journal}: one line per change, each starting with the CRC-32C of the
 * rest (in hex), appended by every process with {@code O_APPEND} writes.
 *
 * <pre>{@code
 * 1a2b3c4d ["h",2,7]                  header: format 2, extends snapshot generation 7
 * 1a2b3c4d ["h",2,8,4096]             ... whose first 4096 bytes of records were carried over from the
 *                                     journal it replaces (appended while snapshot 8 was rendered)
 * 5e6f7a8b ["b","k3x9q2",41,2]        batch 41 of writer k3x9q2: the next 2 lines, all or nothing
 * 0badf00d ["p","model-1",{...}]      put: the value's encoded JSON, as it is
 * 12345678 ["r","model-1"]            remove
 * 9abcdef0 ["c",1764038400.123]       clear: a new, empty content that expires then
 * 9abcdef0 ["c",1764038400.123,1,1764034800.5]
 *                                     rollover: as a clear, but of the period that ended at 1764034800.5
 *                                     only (void over a later one, which another process started first);
 *                                     1: the expired content is kept for stale-if-error (0: not)
 * 9abcdef0 ["c",1764038400.123,1]     format 2's rollover: a clear that keeps the expired content
 * 2468ace0 ["e",1764038400.123]       the content now expires then (another program's file was merged)
 * 0fedcba9 ["s",8,"k3x9q2",4096]      seal: compacted into snapshot 8 by writer k3x9q2, which holds this
 *                                     journal's records up to byte 4096 (format 3); being replaced
 * 0fedcba9 ["s",8,"k3x9q2"]           format 2's seal: does not say where (replayed from the first record)
 * }</pre>
 *
 * Records follow the journal's format, which its header states: into a format 1 or 2 journal, which an
 * older tiercache made and may still be appending to, rollovers and seals are written in format 2.
 *
 * Each write(2) appends one unit, a batch or a seal, starting with a line break: a unit torn by a
 * crash or a full disk is then terminated by the next one and reads as a damaged line, never merged
 * with it. A batch applies whole or not at all. Replaying puts, removes and clears in file order is
 * idempotent, so records a snapshot already holds may be applied again; all but a rollover, which over
 * a snapshot of the period it started is void: a compactor reads past its own before it renders. Values
 * never contain a raw line break (the codec escapes them), so lines are found by scanning for {@code '\n'}.
 */
final class Journal {
  private Journal() {}

  /** The format this version writes; it reads formats 1 (no batches), 2 and 3 (rollovers name their period). */
  static final int FORMAT = 3;
  static final byte PUT = 'p';
  static final byte REMOVE = 'r';
  static final byte CLEAR = 'c';
  static final byte EXPIRY = 'e';
  static final byte HEADER = 'h';
  static final byte SEAL = 's';
  static final byte BATCH = 'b';
  private static final int CRC_WIDTH = 8;
  /** The shortest record line: a checksum, a space, {@code ["c",0]} and its line break. */
  private static final int MIN_LINE = CRC_WIDTH + 9;

  /**
   * One change in a batch. {@code value} is null except for puts; {@code millis} is for clears and
   * expiries; {@code ends}, for clears: the period a rollover ends, {@link Long#MAX_VALUE} for a clear,
   * which ends any.
   */
  record Record(byte op, @Nullable String key, @Nullable Encoded value, long millis, boolean keepStale, long ends) {
    static Record put(String key, Encoded value) {
      return new Record(PUT, key, value, 0, false, 0);
    }

    static Record remove(String key) {
      return new Record(REMOVE, key, null, 0, false, 0);
    }

    static Record clear(long expiryMillis, boolean keepStale, long ends) {
      return new Record(CLEAR, null, null, expiryMillis, keepStale, ends);
    }

    static Record expiry(long expiryMillis) {
      return new Record(EXPIRY, null, null, expiryMillis, false, 0);
    }
  }

  // ---------------------------------------------------------------- writing

  static byte[] header(long generation, long carriedBytes) {
    // The carried length is padded to a fixed width: a compactor writes the carried records while they
    // are still being appended, and the header last, in the space it left for it.
    String carried = Long.toString(carriedBytes);
    return line("[\"h\"," + FORMAT + "," + generation + "," + carried + " ".repeat(19 - carried.length()) + "]");
  }

  /**
   * The seal, with its leading line break: the whole unit a compactor appends. {@code renderedFrom}:
   * where in this journal the records the snapshot does not hold begin.
   */
  static byte[] seal(long generation, String writer, long renderedFrom) {
    return seal(generation, writer, renderedFrom, FORMAT);
  }

  /**
   * The seal for a journal in {@code format}: a format 1 or 2 journal (an older tiercache made it, and
   * may still append to it) gets format 2's {@code ["s",g,"w"]}, which that version reads as the signal
   * to move on; it does not say where the records the snapshot lacks begin (recovery then replays from
   * the first record, which in such a journal is safe: its rollovers are format 2's, plain clears).
   */
  static byte[] seal(long generation, String writer, long renderedFrom, int format) {
    ByteSink unit = startUnit(64);
    unit.writeAscii("[\"s\"," + generation + ",");
    JsonText.writeString(unit, writer);
    unit.writeAscii(format >= 3 ? "," + renderedFrom + "]" : "]");
    return end(unit, 1);
  }

  /** The marker that opens a batch of {@code lines} lines; with its leading line break. */
  static byte[] batch(String writer, long number, int lines) {
    ByteSink unit = startUnit(48);
    unit.writeAscii("[\"b\",");
    JsonText.writeString(unit, writer);
    unit.writeAscii("," + number + "," + lines + "]");
    return end(unit, 1);
  }

  static byte[] put(String key, byte[] value, int offset, int length) {
    // Sized for a key that needs no escapes: the line is then built in place, the value copied once.
    ByteSink line = startLine(9 + key.length() + length);
    line.writeAscii("[\"p\",");
    JsonText.writeString(line, key);
    line.write(',');
    line.write(value, offset, length);
    line.write(']');
    return end(line, 0);
  }

  static byte[] remove(String key) {
    ByteSink line = startLine(8 + key.length());
    line.writeAscii("[\"r\",");
    JsonText.writeString(line, key);
    line.write(']');
    return end(line, 0);
  }

  static byte[] clear(long expiryMillis) {
    return line("[\"c\"," + Snapshot.formatSeconds(expiryMillis) + "]");
  }

  /** A clear of the period that ended at {@code ends} only: see {@link Content.View#endedBy}. */
  static byte[] rollover(long expiryMillis, boolean keepStale, long ends) {
    return line("[\"c\"," + Snapshot.formatSeconds(expiryMillis) + (keepStale ? ",1," : ",0,")
        + Snapshot.formatSeconds(ends) + "]");
  }

  /**
   * Format 2's rollover, for a format 1 or 2 journal, whose readers (older tiercache versions) take a
   * line they cannot parse for a damaged one and drop its whole batch: a clear ({@code ["c",e]}) that
   * keeps the expired content ({@code ["c",e,1]}); it ends any period.
   */
  static byte[] legacyRollover(long expiryMillis, boolean keepStale) {
    return line("[\"c\"," + Snapshot.formatSeconds(expiryMillis) + (keepStale ? ",1]" : "]"));
  }

  static byte[] expiry(long expiryMillis) {
    return line("[\"e\"," + Snapshot.formatSeconds(expiryMillis) + "]");
  }

  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private static byte[] line(String body) {
    ByteSink line = startLine(body.length());
    line.writeAscii(body);
    return end(line, 0);
  }

  /** A line to write the body of: its checksum's room is left first, filled in by {@link #end}. */
  private static ByteSink startLine(int bodyCapacity) {
    ByteSink line = new ByteSink(CRC_WIDTH + 1 + bodyCapacity + 1);
    line.skip(CRC_WIDTH + 1);
    return line;
  }

  /** As {@link #startLine}, after the line break that opens a unit. */
  private static ByteSink startUnit(int bodyCapacity) {
    ByteSink unit = new ByteSink(1 + CRC_WIDTH + 1 + bodyCapacity + 1);
    unit.write('\n');
    unit.skip(CRC_WIDTH + 1);
    return unit;
  }

  /** Ends the line that starts at {@code at}: its line break, then its checksum before the body. */
  private static byte[] end(ByteSink sink, int at) {
    sink.write('\n');
    byte[] line = sink.array();
    int body = at + CRC_WIDTH + 1;
    CRC32C crc = new CRC32C();
    crc.update(line, body, sink.size() - 1 - body);
    long value = crc.getValue();
    for (int i = CRC_WIDTH - 1; i >= 0; i--) {
      line[at + i] = HEX[(int) (value & 0xf)];
      value >>>= 4;
    }
    line[at + CRC_WIDTH] = ' ';
    return sink.size() == line.length ? line : sink.toByteArray();
  }

  // ---------------------------------------------------------------- reading

  /** Receives a journal's units in order. Value ranges point into the scanned buffer. */
  interface Visitor {
    /**
     * The first line: the format, the snapshot generation this journal extends, and how many bytes
     * of records after the header were copied from the journal it replaced (a process that read
     * that one to its seal has applied them).
     */
    void header(int format, long generation, long carriedBytes);

    /**
     * A complete batch, or one record outside any batch (a format 1 journal), whose writer is then
     * null. Applied whole.
     */
    void batch(@Nullable String writer, long number, List<Record> records);

    /**
     * Whether to parse the records of {@code writer}'s batches; when not, they are checked against
     * their checksums and counted, and {@link #batch} gets an empty list. A process reading back its
     * own batches has their changes in memory already.
     */
    default boolean wantsRecords(String writer) {
      return true;
    }

    /**
     * Writer {@code writer} compacted this journal into snapshot {@code generation}, which holds its
     * records up to {@code renderedFrom} (-1: not said, format 2), and is replacing it; the seal line
     * starts at {@code fileOffset}. Return true to stop the scan after it.
     */
    boolean seal(long fileOffset, long generation, String writer, long renderedFrom);

    /** A damaged line (checksum, syntax) amid intact ones; the scan goes on after it. */
    void corrupt(long fileOffset, String reason);

    /**
     * A unit cut short by a crash or a full disk: a partial line, or a batch with fewer records than
     * its marker announced, followed by the next unit (or the end). None of it applies.
     */
    void interrupted(long fileOffset, String reason);
  }

  /**
   * Visits the complete units of {@code buf[0, length)}, which holds the journal's bytes from
   * {@code fileOffset}. Returns how many bytes were consumed: up to the end of the last complete
   * unit. A partial line or batch at the end (an append in progress, or one torn by a crash) is left
   * for the next scan.
   */
  static int scan(byte[] buf, int length, long fileOffset, Visitor visitor) {
    Parser p = new Parser(buf, fileOffset, visitor);
    int pos = 0;
    int consumed = 0;
    while (pos < length && !p.stopped) {
      int eol = indexOf(buf, pos, length, (byte) '\n');
      if (eol < 0) {
        break;
      }
      p.line(pos, eol);
      pos = eol + 1;
      if (p.batchRemaining == 0) {
        consumed = pos;
      }
    }
    p.end();
    return consumed;
  }

  /**
   * The snapshot generation a journal whose header line is damaged extends, given the snapshot in
   * place: the one before it if the journal holds a seal into it (a compactor died between its
   * renames), else that one. Either way replaying the records is safe where an intact header would
   * allow it: a sealed journal's records are in the snapshot already, unless that is a fresh one.
   */
  static long baseOfHeaderless(byte[] journal, int length, long snapshotGeneration) {
    boolean[] sealedInto = {false};
    scan(journal, length, 0, new Visitor() {
      @Override public void header(int format, long generation, long carriedBytes) {}
      @Override public void batch(@Nullable String writer, long number, List<Record> records) {}
      @Override public boolean seal(long fileOffset, long generation, String writer, long renderedFrom) {
        sealedInto[0] |= generation == snapshotGeneration;
        return false;
      }
      @Override public void corrupt(long fileOffset, String reason) {}
      @Override public void interrupted(long fileOffset, String reason) {}
    });
    return sealedInto[0] ? snapshotGeneration - 1 : snapshotGeneration;
  }

  /** A seal: where its line starts, and where the records its snapshot does not hold begin. */
  record Seal(long at, long renderedFrom) {}

  /**
   * The last seal into snapshot {@code generation} in {@code journal} (read from its start), or null.
   * Its {@code renderedFrom} is taken only where a unit starts before the seal, past the header (the
   * byte before it and the byte at it are line breaks: the end of a line and the one that opens a
   * unit); anywhere else (the middle of a line or a batch, the header, past the seal: a damaged or
   * crafted seal) it is -1, not said, and the journal is replayed from its first record, which is safe.
   */
  static @Nullable Seal sealInto(byte[] journal, int length, long generation) {
    int headerEnd = indexOf(journal, 0, length, (byte) '\n') + 1;
    Seal[] found = {null};
    scan(journal, length, 0, new Visitor() {
      @Override public void header(int format, long g, long carriedBytes) {}
      @Override public void batch(@Nullable String writer, long number, List<Record> records) {}
      @Override public boolean seal(long fileOffset, long g, String writer, long renderedFrom) {
        if (g == generation) {
          boolean unitStart = headerEnd > 0 && renderedFrom >= headerEnd && renderedFrom < fileOffset
              && journal[(int) renderedFrom - 1] == '\n' && journal[(int) renderedFrom] == '\n';
          found[0] = new Seal(fileOffset, unitStart ? renderedFrom : -1);
        }
        return false;
      }
      @Override public void corrupt(long fileOffset, String reason) {}
      @Override public void interrupted(long fileOffset, String reason) {}
    });
    return found[0];
  }

  /** Parses lines and groups batches; one per scan. */
  private static final class Parser {
    final byte[] buf;
    final long fileOffset;
    final Visitor visitor;
    final int[] after = new int[1];
    String batchWriter;
    long batchNumber;
    long batchOffset;
    int batchExpected;
    int batchRemaining;
    List<Record> records;
    boolean stopped;
    /** A damaged line, judged by what follows it: the next unit (it was cut short) or more records. */
    long damagedAt = -1;
    String damage;
    /** Whether the damaged line is whole (ends as a record does): rot, not a write cut short. */
    boolean damagedWhole;
    /** The batch the damaged line broke, judged with it; -1 for none. */
    long brokenBatchAt = -1;
    String brokenBatch;
    /** Records of a broken batch still to come: they are dropped with it. */
    int skipRemaining;

    Parser(byte[] buf, long fileOffset, Visitor visitor) {
      this.buf = buf;
      this.fileOffset = fileOffset;
      this.visitor = visitor;
    }

    void line(int from, int eol) {
      if (from == eol) {
        return; // the line break that opens a unit
      }
      long offset = fileOffset + from;
      String damage = checksum(from, eol);
      byte op = 0;
      int pos = 0;
      if (damage == null) {
        try {
          pos = JsonText.expect(buf, from + CRC_WIDTH + 1, eol, '[');
          pos = JsonText.next(buf, pos, eol);
          if (buf[pos] != '"' || pos + 2 >= eol || buf[pos + 2] != '"') {
            throw new MalformedJsonException("expected an operation", pos);
          }
          op = buf[pos + 1];
          pos = JsonText.next(buf, JsonText.expect(buf, pos + 3, eol, ','), eol);
        } catch (MalformedJsonException e) {
          damage = "unreadable record: " + e.getMessage();
        }
      }
      boolean opensUnit = damage == null && (op == BATCH || op == SEAL || op == HEADER);
      judgeDamage(opensUnit);
      if (batchRemaining > 0 && (damage != null || opensUnit)) {
        String why = "a batch of " + batchExpected + " records broken after " + (batchExpected - batchRemaining)
            + "; none of it applies";
        if (opensUnit) {
          visitor.interrupted(batchOffset, why + " (an interrupted write)");
        } else {
          brokenBatchAt = batchOffset; // judged with the damaged line that broke it
          brokenBatch = why;
          skipRemaining = batchRemaining - 1;
        }
        batchRemaining = 0;
        records = null;
      }
      if (opensUnit) {
        skipRemaining = 0;
      } else if (skipRemaining > 0 && damage == null) {
        skipRemaining--;
        return; // the rest of a broken batch
      }
      if (damage != null) {
        damagedAt = offset;
        this.damage = damage;
        damagedWhole = buf[eol - 1] == ']';
        return;
      }
      try {
        record(op, pos, eol, offset);
      } catch (MalformedJsonException | NumberFormatException e) {
        visitor.corrupt(offset, "unreadable record: " + e.getMessage());
      }
    }

    /**
     * Reports the pending damaged line: cut short if the next unit follows it and it is a line's
     * beginning only (a whole line that fails its checksum is rot), damaged otherwise.
     */
    private void judgeDamage(boolean nextOpensUnit) {
      boolean cutShort = nextOpensUnit && !(damagedAt >= 0 && damagedWhole);
      if (brokenBatchAt >= 0) {
        if (cutShort) {
          visitor.interrupted(brokenBatchAt, brokenBatch + " (an interrupted write)");
        } else {
          visitor.corrupt(brokenBatchAt, brokenBatch);
        }
        brokenBatchAt = -1;
      }
      if (damagedAt >= 0) {
        if (cutShort) {
          visitor.interrupted(damagedAt, damage + ": a unit cut short (an interrupted write)");
        } else {
          visitor.corrupt(damagedAt, damage);
        }
        damagedAt = -1;
      }
    }

    /** At the end of the bytes scanned: a damaged last line is taken for one cut short. */
    void end() {
      judgeDamage(true);
    }

    private String checksum(int from, int eol) {
      if (eol - from < CRC_WIDTH + 3 || buf[from + CRC_WIDTH] != ' ') {
        return "not a journal line";
      }
      long expected = 0;
      for (int i = from; i < from + CRC_WIDTH; i++) {
        int d = Character.digit(buf[i], 16);
        if (d < 0) {
          return "no checksum";
        }
        expected = (expected << 4) | d;
      }
      CRC32C crc = new CRC32C();
      crc.update(buf, from + CRC_WIDTH + 1, eol - from - CRC_WIDTH - 1);
      return crc.getValue() == expected ? null : "checksum mismatch";
    }

    private void record(byte op, int pos, int eol, long offset) throws MalformedJsonException {
      switch (op) {
        case HEADER: {
          int end = JsonText.skipValue(buf, pos, eol);
          int format = Integer.parseInt(ascii(pos, end));
          pos = JsonText.next(buf, JsonText.expect(buf, end, eol, ','), eol);
          end = JsonText.skipValue(buf, pos, eol);
          long generation = Long.parseLong(ascii(pos, end));
          long carried = 0;
          pos = JsonText.next(buf, end, eol);
          if (buf[pos] == ',') {
            pos = JsonText.next(buf, pos + 1, eol);
            end = JsonText.skipValue(buf, pos, eol);
            carried = Long.parseLong(ascii(pos, end));
            pos = JsonText.next(buf, end, eol);
          }
          JsonText.expect(buf, pos, eol, ']');
          visitor.header(format, generation, carried);
          return;
        }
        case SEAL: {
          int end = JsonText.skipValue(buf, pos, eol);
          long generation = Long.parseLong(ascii(pos, end));
          String writer = "";
          long renderedFrom = -1;
          pos = JsonText.next(buf, end, eol);
          if (buf[pos] == ',') {
            writer = JsonText.readString(buf, JsonText.next(buf, pos + 1, eol), eol, after);
            pos = JsonText.next(buf, after[0], eol);
            if (buf[pos] == ',') {
              pos = JsonText.next(buf, pos + 1, eol);
              end = JsonText.skipValue(buf, pos, eol);
              renderedFrom = Long.parseLong(ascii(pos, end));
              pos = JsonText.next(buf, end, eol);
            }
          }
          JsonText.expect(buf, pos, eol, ']');
          stopped = visitor.seal(offset, generation, writer, renderedFrom);
          return;
        }
        case BATCH: {
          String writer = JsonText.readString(buf, pos, eol, after);
          pos = JsonText.next(buf, JsonText.expect(buf, after[0], eol, ','), eol);
          int end = JsonText.skipValue(buf, pos, eol);
          long number = Long.parseLong(ascii(pos, end));
          pos = JsonText.next(buf, JsonText.expect(buf, end, eol, ','), eol);
          end = JsonText.skipValue(buf, pos, eol);
          int lines = Integer.parseInt(ascii(pos, end));
          JsonText.expect(buf, end, eol, ']');
          if (lines <= 0) {
            throw new MalformedJsonException("a batch of " + lines + " records", pos);
          }
          batchWriter = writer;
          batchNumber = number;
          batchOffset = offset;
          batchExpected = lines;
          batchRemaining = lines;
          // The count is the file's word (a checksum vouches for no writer): no more than the bytes left can hold.
          records = visitor.wantsRecords(writer) ? new ArrayList<>(Math.min(lines, (buf.length - eol) / MIN_LINE)) : null;
          return;
        }
        default:
          if (batchRemaining > 0 && records == null) {
            if (--batchRemaining == 0) {
              visitor.batch(batchWriter, batchNumber, List.of());
            }
            return;
          }
          Record r = change(op, pos, eol);
          if (batchRemaining > 0) {
            records.add(r);
            if (--batchRemaining == 0) {
              List<Record> done = records;
              records = null;
              visitor.batch(batchWriter, batchNumber, done);
            }
          } else {
            visitor.batch(null, 0, List.of(r));
          }
      }
    }

    private Record change(byte op, int pos, int eol) throws MalformedJsonException {
      switch (op) {
        case PUT: {
          String key = JsonText.readString(buf, pos, eol, after);
          int valueStart = JsonText.next(buf, JsonText.expect(buf, after[0], eol, ','), eol);
          int valueEnd = JsonText.skipValue(buf, valueStart, eol);
          JsonText.expect(buf, valueEnd, eol, ']');
          return Record.put(key, new Encoded(buf, valueStart, valueEnd - valueStart, 0));
        }
        case REMOVE: {
          String key = JsonText.readString(buf, pos, eol, after);
          JsonText.expect(buf, after[0], eol, ']');
          return Record.remove(key);
        }
        case CLEAR:
        case EXPIRY: {
          int end = JsonText.skipValue(buf, pos, eol);
          long millis = Snapshot.millis(ascii(pos, end), pos);
          boolean keepStale = false;
          long ends = Long.MAX_VALUE;
          pos = JsonText.next(buf, end, eol);
          if (op == CLEAR && buf[pos] == ',') {
            pos = JsonText.next(buf, pos + 1, eol);
            end = JsonText.skipValue(buf, pos, eol);
            keepStale = "1".equals(ascii(pos, end));
            pos = JsonText.next(buf, end, eol);
            if (buf[pos] == ',') {
              pos = JsonText.next(buf, pos + 1, eol);
              end = JsonText.skipValue(buf, pos, eol);
              ends = Snapshot.millis(ascii(pos, end), pos);
              pos = JsonText.next(buf, end, eol);
            }
          }
          JsonText.expect(buf, pos, eol, ']');
          return new Record(op, null, null, millis, keepStale, ends);
        }
        default:
          throw new MalformedJsonException("unknown operation '" + (char) op + "'", pos);
      }
    }

    private String ascii(int from, int to) {
      return new String(buf, from, to - from, StandardCharsets.US_ASCII);
    }
  }

  static int indexOf(byte[] buf, int from, int to, byte b) {
    for (int i = from; i < to; i++) {
      if (buf[i] == b) {
        return i;
      }
    }
    return -1;
  }
}
