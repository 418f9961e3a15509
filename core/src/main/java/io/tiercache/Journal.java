package io.tiercache;

import io.tiercache.JsonText.MalformedJsonException;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The journal, {@code <name>.journal}: one line per change, appended under the cache's lock.
 *
 * <pre>{@code
 * 1a2b3c4d ["h",1,7]                 header: format 1, extends snapshot generation 7
 * 1a2b3c4d ["h",1,8,4096]            ... whose first 4096 bytes of lines were carried over from the
 *                                    journal it replaces (appended while snapshot 8 was rendered)
 * 0badf00d ["p","model-1",{...}]     put: the value's encoded JSON, as it is
 * 12345678 ["r","model-1"]           remove
 * 9abcdef0 ["c",1764038400.123]      clear: a new, empty content that expires then
 * 0fedcba9 ["s",8]                   seal: compacted into snapshot 8; this file is being replaced
 * }</pre>
 *
 * Replaying a journal is idempotent (puts, removes and clears in order), so lines that a
 * snapshot already contains may be applied again safely; nothing is ever skipped by generation.
 *
 * Each line starts with the CRC-32C of the rest (in hex), so a torn or damaged line is detected
 * and the lines after it still apply. Values never contain a raw line break (the codec escapes
 * them), so lines can be found by scanning for {@code '\n'}.
 */
final class Journal {
  private Journal() {}

  static final byte PUT = 'p';
  static final byte REMOVE = 'r';
  static final byte CLEAR = 'c';
  static final byte HEADER = 'h';
  static final byte SEAL = 's';
  private static final int CRC_WIDTH = 8;

  static byte[] header(long generation, long carriedBytes) {
    ByteSink body = new ByteSink(48);
    body.writeAscii("[\"h\"," + Snapshot.FORMAT_VERSION + "," + generation
        + (carriedBytes > 0 ? "," + carriedBytes : "") + "]");
    return line(body);
  }

  static byte[] seal(long generation) {
    ByteSink body = new ByteSink(32);
    body.writeAscii("[\"s\"," + generation + "]");
    return line(body);
  }

  static byte[] put(String key, byte[] value, int offset, int length) {
    ByteSink body = new ByteSink(length + key.length() + 16);
    body.writeAscii("[\"p\",");
    JsonText.writeString(body, key);
    body.write(',');
    body.write(value, offset, length);
    body.write(']');
    return line(body);
  }

  static byte[] remove(String key) {
    ByteSink body = new ByteSink(key.length() + 16);
    body.writeAscii("[\"r\",");
    JsonText.writeString(body, key);
    body.write(']');
    return line(body);
  }

  static byte[] clear(long expiryMillis) {
    ByteSink body = new ByteSink(32);
    body.writeAscii("[\"c\"," + Snapshot.formatSeconds(expiryMillis) + "]");
    return line(body);
  }

  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private static byte[] line(ByteSink body) {
    CRC32C crc = new CRC32C();
    crc.update(body.array(), 0, body.size());
    byte[] line = new byte[CRC_WIDTH + 1 + body.size() + 1];
    long value = crc.getValue();
    for (int i = CRC_WIDTH - 1; i >= 0; i--) {
      line[i] = HEX[(int) (value & 0xf)];
      value >>>= 4;
    }
    line[CRC_WIDTH] = ' ';
    System.arraycopy(body.array(), 0, line, CRC_WIDTH + 1, body.size());
    line[line.length - 1] = '\n';
    return line;
  }

  /** Receives the records of a journal in order. Value ranges point into the scanned buffer. */
  interface Visitor {
    /**
     * The first line: the snapshot generation this journal extends, and how many bytes of lines
     * after the header were copied from the journal it replaced (a process that read that one to
     * its end has applied them).
     */
    void header(long generation, long carriedBytes);

    void put(String key, Encoded value);

    void remove(String key);

    void clear(long expiryMillis);

    /** The writer of this file compacted it into snapshot {@code generation} and is replacing it. */
    default void seal(long generation) {}

    /** A complete line that failed its checksum or does not parse; the scan goes on after it. */
    void corrupt(long fileOffset, String reason);
  }

  /**
   * Visits the complete lines of {@code buf[0, length)}, which holds the journal's bytes from
   * {@code fileOffset}. Returns how many bytes were consumed: up to and including the last
   * {@code '\n'}; a trailing partial line (an append in progress, or torn by a crash) is left.
   */
  static int scan(byte[] buf, int length, long fileOffset, Visitor visitor) {
    int pos = 0;
    int[] after = new int[1];
    while (pos < length) {
      int eol = indexOf(buf, pos, length, (byte) '\n');
      if (eol < 0) {
        break;
      }
      parseLine(buf, pos, eol, fileOffset + pos, visitor, after);
      pos = eol + 1;
    }
    return pos;
  }

  private static void parseLine(byte[] buf, int from, int eol, long fileOffset, Visitor visitor, int[] after) {
    int bodyStart = from + CRC_WIDTH + 1;
    if (eol - from < CRC_WIDTH + 3 || buf[from + CRC_WIDTH] != ' ') {
      visitor.corrupt(fileOffset, "not a journal line");
      return;
    }
    long expected;
    try {
      expected = Long.parseLong(new String(buf, from, CRC_WIDTH, StandardCharsets.US_ASCII), 16);
    } catch (NumberFormatException e) {
      visitor.corrupt(fileOffset, "no checksum");
      return;
    }
    CRC32C crc = new CRC32C();
    crc.update(buf, bodyStart, eol - bodyStart);
    if (crc.getValue() != expected) {
      visitor.corrupt(fileOffset, "checksum mismatch");
      return;
    }
    try {
      int pos = JsonText.expect(buf, bodyStart, eol, '[');
      pos = JsonText.next(buf, pos, eol);
      if (buf[pos] != '"' || pos + 2 >= eol || buf[pos + 2] != '"') {
        throw new MalformedJsonException("expected an operation", pos);
      }
      byte op = buf[pos + 1];
      pos = JsonText.expect(buf, pos + 3, eol, ',');
      pos = JsonText.next(buf, pos, eol);
      switch (op) {
        case PUT: {
          String key = JsonText.readString(buf, pos, eol, after);
          int valueStart = JsonText.next(buf, JsonText.expect(buf, after[0], eol, ','), eol);
          int valueEnd = JsonText.skipValue(buf, valueStart, eol);
          JsonText.expect(buf, valueEnd, eol, ']');
          visitor.put(key, new Encoded(buf, valueStart, valueEnd - valueStart, 0));
          return;
        }
        case REMOVE: {
          String key = JsonText.readString(buf, pos, eol, after);
          JsonText.expect(buf, after[0], eol, ']');
          visitor.remove(key);
          return;
        }
        case CLEAR: {
          int end = JsonText.skipValue(buf, pos, eol);
          double seconds = Double.parseDouble(new String(buf, pos, end - pos, StandardCharsets.US_ASCII));
          visitor.clear(Math.round(seconds * 1000));
          return;
        }
        case SEAL: {
          int end = JsonText.skipValue(buf, pos, eol);
          visitor.seal(Long.parseLong(new String(buf, pos, end - pos, StandardCharsets.US_ASCII)));
          return;
        }
        case HEADER: {
          int end = JsonText.skipValue(buf, pos, eol);
          int version = Integer.parseInt(new String(buf, pos, end - pos, StandardCharsets.US_ASCII));
          if (version != Snapshot.FORMAT_VERSION) {
            visitor.corrupt(fileOffset, "unsupported journal format " + version);
            return;
          }
          pos = JsonText.next(buf, JsonText.expect(buf, end, eol, ','), eol);
          end = JsonText.skipValue(buf, pos, eol);
          long generation = Long.parseLong(new String(buf, pos, end - pos, StandardCharsets.US_ASCII));
          long carried = 0;
          pos = JsonText.next(buf, end, eol);
          if (buf[pos] == ',') {
            pos = JsonText.next(buf, pos + 1, eol);
            end = JsonText.skipValue(buf, pos, eol);
            carried = Long.parseLong(new String(buf, pos, end - pos, StandardCharsets.US_ASCII));
            pos = JsonText.next(buf, end, eol);
          }
          JsonText.expect(buf, pos, eol, ']');
          visitor.header(generation, carried);
          return;
        }
        default:
          visitor.corrupt(fileOffset, "unknown operation '" + (char) op + "'");
      }
    } catch (MalformedJsonException | NumberFormatException e) {
      visitor.corrupt(fileOffset, "unreadable record: " + e.getMessage());
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
