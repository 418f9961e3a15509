package io.tiercache.jcache;

import io.tiercache.Codec;
import io.tiercache.CodecException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Base64;
import org.jspecify.annotations.Nullable;

/**
 * What the persistent tier keeps for one JCache entry: the value's encoding and the entry's own
 * deadline, in one JSON object (the envelope), since the stores beneath expire whole contents or
 * fixed periods while JCache's {@code ExpiryPolicy} sets a deadline per entry, changed by reads and
 * updates:
 *
 * <pre>
 * {"v": &lt;the value's JSON&gt;, "t": "&lt;its class&gt;", "x": &lt;deadline, epoch milliseconds&gt;}
 * {"j": "&lt;base64 of the value's Java serialization&gt;", "x": ...}
 * </pre>
 *
 * {@code t} is left out when the value's class is the cache's declared value type, {@code x} when
 * the entry never expires. Instances are immutable: a new deadline is a new {@code Stored}.
 */
final class Stored {
  /** The deadline of an entry that never expires. */
  static final long ETERNAL = Long.MAX_VALUE;

  /** The value's JSON, or null when it is Java-serialized. */
  final byte @Nullable [] json;
  /** The value's class when it is not the declared value type; only with {@link #json}. */
  final @Nullable String type;
  /** The value's Java serialization, or null when it is JSON. */
  final byte @Nullable [] serialized;
  /** When the entry expires, epoch milliseconds; {@link #ETERNAL} for never. */
  final long deadline;
  /**
   * The decoded value when it is immutable (a String, a boxed number, a record of such...), so
   * that reads need not decode it again; null until first needed.
   */
  volatile @Nullable Object immutable;

  Stored(byte @Nullable [] json, @Nullable String type, byte @Nullable [] serialized, long deadline,
      @Nullable Object immutable) {
    if ((json == null) == (serialized == null)) {
      throw new IllegalArgumentException("an entry is either JSON or Java-serialized");
    }
    this.json = json;
    this.type = type;
    this.serialized = serialized;
    this.deadline = deadline;
    this.immutable = immutable;
  }

  boolean expired(long nowMillis) {
    return deadline != ETERNAL && nowMillis >= deadline;
  }

  /** The same value with another deadline; the same instance when the deadline does not change. */
  Stored withDeadline(long newDeadline) {
    return newDeadline == deadline ? this : new Stored(json, type, serialized, newDeadline, immutable);
  }

  // ---------------------------------------------------------------- the envelope's JSON

  /**
   * A codec for one cache: envelopes to and from compact ASCII JSON. One instance per cache, so
   * that caches opened on the same files by different cache managers (class loaders) keep their
   * own front tiers and their own decoded values.
   */
  static Codec<Stored> codec() {
    return new EnvelopeCodec();
  }

  private static final class EnvelopeCodec implements Codec<Stored> {
    @Override
    public byte[] encode(@Nullable Stored stored) {
      if (stored == null) {
        throw new CodecException(Stored.class, "no value", null);
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream(
          16 + (stored.json != null ? stored.json.length : stored.serialized.length * 4 / 3 + 4));
      if (stored.json != null) {
        out.writeBytes(V);
        out.writeBytes(stored.json);
        if (stored.type != null) {
          out.writeBytes(T);
          writeAscii(out, stored.type);
          out.write('"');
        }
      } else {
        out.writeBytes(J);
        out.writeBytes(Base64.getEncoder().encode(stored.serialized));
        out.write('"');
      }
      if (stored.deadline != ETERNAL) {
        out.writeBytes(X);
        out.writeBytes(Long.toString(stored.deadline).getBytes(StandardCharsets.US_ASCII));
      }
      out.write('}');
      return out.toByteArray();
    }

    @Override
    public Stored decode(byte[] bytes, int offset, int length) {
      return new Reader(bytes, offset, offset + length).envelope();
    }
  }

  private static final byte[] V = ascii("{\"v\":");
  private static final byte[] T = ascii(",\"t\":\"");
  private static final byte[] J = ascii("{\"j\":\"");
  private static final byte[] X = ascii(",\"x\":");

  /** A class name as the inside of a JSON string: ASCII, anything else as a {@code \\uXXXX} escape. */
  private static void writeAscii(ByteArrayOutputStream out, String s) {
    for (int k = 0; k < s.length(); k++) {
      char c = s.charAt(k);
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
        out.write(c);
      } else {
        out.writeBytes(ascii(String.format("\\u%04x", (int) c)));
      }
    }
  }

  private static byte[] ascii(String s) {
    return s.getBytes(StandardCharsets.US_ASCII);
  }

  /**
   * Reads an envelope however it was laid out (another writer, such as the Python SDK rewriting
   * the file, may indent it or reorder its members). Members other than v, t, j and x are ignored.
   */
  private static final class Reader {
    private final byte[] b;
    private final int start;
    private final int end;
    private int i;

    Reader(byte[] bytes, int start, int end) {
      this.b = bytes;
      this.start = start;
      this.end = end;
      this.i = start;
    }

    Stored envelope() {
      byte[] json = null;
      String type = null;
      byte[] serialized = null;
      long deadline = ETERNAL;
      expect('{');
      if (peek() != '}') {
        do {
          String name = string();
          expect(':');
          skipWhitespace();
          switch (name) {
            case "v" -> {
              int from = i;
              skipValue(0);
              json = Arrays.copyOfRange(b, from, i);
            }
            case "t" -> type = string();
            case "j" -> {
              try {
                serialized = Base64.getDecoder().decode(string());
              } catch (IllegalArgumentException e) {
                throw fail("member j is not base64: " + e.getMessage());
              }
            }
            case "x" -> deadline = integer();
            default -> skipValue(0);
          }
        } while (next(',', '}') == ',');
      } else {
        i++;
      }
      if (peek() != -1) {
        throw fail("bytes after the envelope");
      }
      if ((json == null) == (serialized == null)) {
        throw fail("not a JCache entry: it needs exactly one of the members v (JSON) and j (Java serialization)");
      }
      return new Stored(json, type, serialized, deadline, null);
    }

    private int peek() {
      skipWhitespace();
      return i < end ? b[i] : -1;
    }

    private void skipWhitespace() {
      while (i < end && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) {
        i++;
      }
    }

    private void expect(char c) {
      if (peek() != c) {
        throw fail("expected '" + c + "'");
      }
      i++;
    }

    private int next(char a, char z) {
      int c = peek();
      if (c != a && c != z) {
        throw fail("expected '" + a + "' or '" + z + "'");
      }
      i++;
      return c;
    }

    private String string() {
      expect('"');
      StringBuilder s = new StringBuilder();
      while (true) {
        int from = i;
        while (i < end && b[i] != '"' && b[i] != '\\') {
          i++;
        }
        s.append(new String(b, from, i - from, StandardCharsets.UTF_8));
        if (i >= end) {
          throw fail("unterminated string");
        }
        if (b[i++] == '"') {
          return s.toString();
        }
        if (i >= end) {
          throw fail("unterminated escape");
        }
        byte e = b[i++];
        switch (e) {
          case 'u' -> {
            if (i + 4 > end) {
              throw fail("short \\u escape");
            }
            try {
              s.append((char) Integer.parseInt(new String(b, i, 4, StandardCharsets.US_ASCII), 16));
            } catch (NumberFormatException x) {
              throw fail("bad \\u escape");
            }
            i += 4;
          }
          case 'n' -> s.append('\n');
          case 't' -> s.append('\t');
          case 'r' -> s.append('\r');
          case 'b' -> s.append('\b');
          case 'f' -> s.append('\f');
          default -> s.append((char) e); // \" \\ \/
        }
      }
    }

    private long integer() {
      int from = i;
      skipValue(0);
      try {
        return Long.parseLong(new String(b, from, i - from, StandardCharsets.US_ASCII));
      } catch (NumberFormatException e) {
        throw fail("member x is not an integer");
      }
    }

    /** Skips one JSON value, checking its brackets and strings (the codec checks the rest). */
    private void skipValue(int depth) {
      if (depth > 512) {
        throw fail("nested too deeply");
      }
      int c = peek();
      if (c == '"') {
        i++;
        while (true) {
          if (i >= end) {
            throw fail("unterminated string");
          }
          byte x = b[i++];
          if (x == '\\') {
            i++;
          } else if (x == '"') {
            return;
          }
        }
      }
      if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        i++;
        if (peek() == close) {
          i++;
          return;
        }
        do {
          if (close == '}') {
            string();
            expect(':');
          }
          skipValue(depth + 1);
        } while (next(',', close) == ',');
        return;
      }
      int from = i;
      while (i < end && "{}[],: \n\r\t\"".indexOf(b[i]) < 0) {
        i++;
      }
      if (i == from) {
        throw fail("expected a value");
      }
    }

    private CodecException fail(String reason) {
      return new CodecException(Stored.class, reason + " at byte " + (i - start) + " of "
          + new String(b, start, Math.min(end - start, 200), StandardCharsets.ISO_8859_1), null);
    }
  }
}
