package io.tiercache;

import io.tiercache.JsonText.MalformedJsonException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The snapshot file, {@code <name>.json}, in the Python SDK's format:
 *
 * <pre>{@code
 * {
 *     "expiry": 1764038400.123,
 *     "data": {
 *         "<id>": {
 *             "<field>": <value>
 *         }
 *     },
 *     "tiercache": {
 *         "version": 1,
 *         "generation": 7
 *     }
 * }
 * }</pre>
 *
 * Indent 4, non-ASCII escaped, no trailing newline, exactly as {@code json.dump(indent=4)} writes
 * it. The Python reader uses only {@code expiry} and {@code data}; {@code tiercache} tells which
 * compaction wrote the file so that a journal can be matched to it.
 *
 * <p>Reading indexes each entry's byte range after validating the whole file; no value is
 * decoded until it is asked for. Rendering copies each entry's bytes, re-indented.
 */
final class Snapshot {
  /** The format of the {@code tiercache} member tiercache adds: 2 since the snapshot has an indexed twin. */
  static final int FORMAT_VERSION = 2;
  /** The generation of a snapshot that tiercache did not write (the Python SDK's). */
  static final long FOREIGN = -1;

  final long expiryMillis;
  final long generation;
  final ConcurrentHashMap<String, Encoded> entries;

  private Snapshot(long expiryMillis, long generation, ConcurrentHashMap<String, Encoded> entries) {
    this.expiryMillis = expiryMillis;
    this.generation = generation;
    this.entries = entries;
  }

  /** Validates and indexes {@code buf[0, length)}; entries point into {@code buf}. */
  static Snapshot parse(byte[] buf, int length) throws MalformedJsonException {
    int[] after = new int[1];
    int pos = JsonText.expect(buf, 0, length, '{');
    Long expiry = null;
    long generation = FOREIGN;
    ConcurrentHashMap<String, Encoded> entries = null;
    pos = JsonText.next(buf, pos, length);
    if (buf[pos] == '}') {
      throw new MalformedJsonException("the top-level object has no \"expiry\" and \"data\"", pos);
    }
    while (true) {
      pos = JsonText.next(buf, pos, length);
      if (buf[pos] != '"') {
        throw new MalformedJsonException("expected a member name", pos);
      }
      String name = JsonText.readString(buf, pos, length, after);
      pos = JsonText.expect(buf, after[0], length, ':');
      int valueStart = JsonText.next(buf, pos, length);
      int valueEnd = JsonText.skipValue(buf, valueStart, length);
      switch (name) {
        case "expiry":
          expiry = millis(new String(buf, valueStart, valueEnd - valueStart, StandardCharsets.US_ASCII), valueStart);
          break;
        case "data":
          entries = data(buf, valueStart, valueEnd, after);
          break;
        case "tiercache":
          generation = generation(buf, valueStart, valueEnd, after);
          break;
        default:
          // Another writer's own key: ignored, as the Python reader does.
      }
      pos = JsonText.next(buf, valueEnd, length);
      if (buf[pos] == ',') {
        pos++;
        continue;
      }
      if (buf[pos] == '}') {
        pos++;
        break;
      }
      throw new MalformedJsonException("expected ',' or '}'", pos);
    }
    if (JsonText.skipWhitespace(buf, pos, length) != length) {
      throw new MalformedJsonException("unexpected bytes after the top-level object", pos);
    }
    if (expiry == null) {
      throw new MalformedJsonException("no \"expiry\" member", 0);
    }
    if (entries == null) {
      throw new MalformedJsonException("no \"data\" member", 0);
    }
    return new Snapshot(expiry, generation, entries);
  }

  private static double number(byte[] buf, int from, int to, String what) throws MalformedJsonException {
    String text = new String(buf, from, to - from, StandardCharsets.US_ASCII);
    try {
      double d = Double.parseDouble(text);
      if (Double.isFinite(d)) {
        return d;
      }
    } catch (NumberFormatException e) {
      // reported below
    }
    throw new MalformedJsonException("\"" + what + "\" is not a finite number: " + text, from);
  }

  private static ConcurrentHashMap<String, Encoded> data(byte[] buf, int from, int to, int[] after)
      throws MalformedJsonException {
    if (buf[from] != '{') {
      throw new MalformedJsonException("\"data\" is not an object", from);
    }
    // Sized from the bytes (entries are rarely under 64 bytes) so the index is built without rehashing.
    ConcurrentHashMap<String, Encoded> entries = new ConcurrentHashMap<>(Math.max(16, (to - from) / 64));
    int pos = JsonText.next(buf, from + 1, to);
    if (buf[pos] == '}') {
      return entries;
    }
    while (true) {
      pos = JsonText.next(buf, pos, to);
      String key = JsonText.readString(buf, pos, to, after);
      pos = JsonText.expect(buf, after[0], to, ':');
      int valueStart = JsonText.next(buf, pos, to);
      int valueEnd = JsonText.skipValue(buf, valueStart, to);
      entries.put(key, new Encoded(buf, valueStart, valueEnd - valueStart, 0));
      pos = JsonText.next(buf, valueEnd, to);
      if (buf[pos] == '}') {
        return entries;
      }
      pos++; // ',' (skipValue of "data" already validated the structure)
    }
  }

  private static long generation(byte[] buf, int from, int to, int[] after) throws MalformedJsonException {
    if (buf[from] != '{') {
      return FOREIGN;
    }
    int pos = JsonText.next(buf, from + 1, to);
    while (buf[pos] != '}') {
      String name = JsonText.readString(buf, pos, to, after);
      int valueStart = JsonText.next(buf, JsonText.expect(buf, after[0], to, ':'), to);
      int valueEnd = JsonText.skipValue(buf, valueStart, to);
      if (name.equals("generation")) {
        return (long) number(buf, valueStart, valueEnd, "tiercache.generation");
      }
      pos = JsonText.next(buf, valueEnd, to);
      if (buf[pos] == ',') {
        pos = JsonText.next(buf, pos + 1, to);
      }
    }
    return FOREIGN;
  }

  /** Renders a snapshot; entries' bytes are copied re-indented, never decoded. */
  static ByteSink render(long expiryMillis, long generation, Iterable<Map.Entry<String, Encoded>> entries,
      int sizeHint) {
    ByteSink out = new ByteSink(sizeHint + 256);
    out.writeAscii("{\n    \"expiry\": ");
    out.writeAscii(formatSeconds(expiryMillis));
    out.writeAscii(",\n    \"data\": {");
    boolean first = true;
    for (Map.Entry<String, Encoded> e : entries) {
      out.writeAscii(first ? "\n        " : ",\n        ");
      first = false;
      JsonText.writeString(out, e.getKey());
      out.writeAscii(": ");
      e.getValue().writeAsEntry(out);
    }
    out.writeAscii(first ? "}" : "\n    }");
    out.writeAscii(",\n    \"tiercache\": {\n        \"version\": " + FORMAT_VERSION
        + ",\n        \"generation\": " + generation + "\n    }\n}");
    return out;
  }

  /**
   * Float seconds, as the Python SDK writes an expiry, as epoch milliseconds. Python reads
   * {@code Infinity} (and {@code 1e309}) as a time that never comes, and so does this; {@code NaN}
   * is refused: Python would keep such a file forever and serve it, tiercache sets it aside.
   */
  static long millis(String seconds, int at) throws MalformedJsonException {
    double d;
    try {
      d = Double.parseDouble(seconds);
    } catch (NumberFormatException e) {
      throw new MalformedJsonException("the expiry is not a number: " + seconds, at);
    }
    if (Double.isNaN(d)) {
      throw new MalformedJsonException("the expiry is NaN", at);
    }
    if (d * 1000 >= Long.MAX_VALUE) {
      return Long.MAX_VALUE;
    }
    if (d * 1000 <= Long.MIN_VALUE) {
      return Long.MIN_VALUE;
    }
    return Math.round(d * 1000);
  }

  /** Epoch milliseconds as the float seconds the Python SDK writes, e.g. {@code 1764038400.123}. */
  static String formatSeconds(long millis) {
    return JsonCodec.pythonRepr(millis / 1000.0);
  }
}
