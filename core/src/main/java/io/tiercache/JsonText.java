package io.tiercache;


/**
 * Byte-level JSON routines that the persistent tier needs without binding values to objects:
 * validating and skipping a value (to index a snapshot's entries by byte range), reading a
 * string, escaping a string the way Python's {@code json.dumps} does ({@code ensure_ascii}), and
 * re-indenting an encoded value to the snapshot's indent-4 layout.
 *
 * <p>Accepts the non-standard tokens Python writes for floats ({@code NaN}, {@code Infinity},
 * {@code -Infinity}). Skipping is iterative, so nesting depth cannot overflow the stack.
 */
final class JsonText {
  private JsonText() {}

  /** Thrown for malformed input; carries the byte offset. Callers turn it into a CacheException. */
  static final class MalformedJsonException extends Exception {
    private static final long serialVersionUID = 1L;

    final int offset;

    MalformedJsonException(String message, int offset) {
      super(message + " at byte " + offset);
      this.offset = offset;
    }
  }

  static boolean isWhitespace(byte b) {
    return b == ' ' || b == '\n' || b == '\r' || b == '\t';
  }

  static int skipWhitespace(byte[] buf, int pos, int end) {
    while (pos < end && isWhitespace(buf[pos])) {
      pos++;
    }
    return pos;
  }

  /** Returns the position of the next non-whitespace byte, failing at the end of input. */
  static int next(byte[] buf, int pos, int end) throws MalformedJsonException {
    pos = skipWhitespace(buf, pos, end);
    if (pos >= end) {
      throw new MalformedJsonException("unexpected end of input", pos);
    }
    return pos;
  }

  static int expect(byte[] buf, int pos, int end, char c) throws MalformedJsonException {
    pos = next(buf, pos, end);
    if (buf[pos] != c) {
      throw new MalformedJsonException("expected '" + c + "' but found '" + (char) buf[pos] + "'", pos);
    }
    return pos + 1;
  }

  /**
   * Validates one JSON value starting at {@code pos} (after optional whitespace) and returns the
   * position just after it. Iterative: depth is bounded by memory, not the stack.
   */
  static int skipValue(byte[] buf, int pos, int end) throws MalformedJsonException {
    // A stack of open containers: '{' or '['. Grows on demand.
    byte[] stack = new byte[16];
    int depth = 0;
    pos = next(buf, pos, end);
    while (true) {
      byte b = buf[pos];
      boolean scalar = true;
      switch (b) {
        case '{':
        case '[': {
          int inner = next(buf, pos + 1, end);
          byte close = b == '{' ? (byte) '}' : (byte) ']';
          if (buf[inner] == close) {
            pos = inner + 1;
            break;
          }
          if (depth == stack.length) {
            stack = java.util.Arrays.copyOf(stack, depth * 2);
          }
          stack[depth++] = b;
          pos = inner;
          if (b == '{') {
            pos = skipKey(buf, pos, end);
          }
          scalar = false;
          break;
        }
        case '"':
          pos = skipString(buf, pos, end);
          break;
        case 't':
          pos = literal(buf, pos, end, "true");
          break;
        case 'f':
          pos = literal(buf, pos, end, "false");
          break;
        case 'n':
          pos = literal(buf, pos, end, "null");
          break;
        case 'N':
          pos = literal(buf, pos, end, "NaN");
          break;
        case 'I':
          pos = literal(buf, pos, end, "Infinity");
          break;
        default:
          pos = skipNumber(buf, pos, end);
      }
      if (!scalar) {
        continue; // the container's first value starts at pos
      }
      // After a value: close containers or move to the next element.
      while (true) {
        if (depth == 0) {
          return pos;
        }
        pos = next(buf, pos, end);
        byte open = stack[depth - 1];
        byte c = buf[pos];
        if (c == ',') {
          pos = next(buf, pos + 1, end);
          if (open == '{') {
            pos = skipKey(buf, pos, end);
          }
          break;
        }
        if ((open == '{' && c == '}') || (open == '[' && c == ']')) {
          depth--;
          pos++;
          continue;
        }
        throw new MalformedJsonException("expected ',' or '" + (open == '{' ? '}' : ']')
            + "' but found '" + (char) c + "'", pos);
      }
      pos = next(buf, pos, end);
    }
  }

  /** Skips {@code "key" :} and whitespace, returning the start of the member's value. */
  private static int skipKey(byte[] buf, int pos, int end) throws MalformedJsonException {
    pos = next(buf, pos, end);
    if (buf[pos] != '"') {
      throw new MalformedJsonException("expected a member name", pos);
    }
    pos = skipString(buf, pos, end);
    pos = expect(buf, pos, end, ':');
    return next(buf, pos, end);
  }

  private static int literal(byte[] buf, int pos, int end, String word) throws MalformedJsonException {
    if (pos + word.length() > end) {
      throw new MalformedJsonException("truncated literal, expected " + word, pos);
    }
    for (int i = 0; i < word.length(); i++) {
      if (buf[pos + i] != word.charAt(i)) {
        throw new MalformedJsonException("invalid literal, expected " + word, pos);
      }
    }
    return pos + word.length();
  }

  private static int skipNumber(byte[] buf, int pos, int end) throws MalformedJsonException {
    int start = pos;
    if (pos < end && buf[pos] == '-') {
      pos++;
      if (pos < end && buf[pos] == 'I') {
        return literal(buf, pos, end, "Infinity");
      }
    }
    int digits = pos;
    while (pos < end && buf[pos] >= '0' && buf[pos] <= '9') {
      pos++;
    }
    if (pos == digits) {
      throw new MalformedJsonException(pos < end
          ? "unexpected character '" + (char) buf[pos] + "'" : "unexpected end of input", pos);
    }
    if (pos < end && buf[pos] == '.') {
      int frac = ++pos;
      while (pos < end && buf[pos] >= '0' && buf[pos] <= '9') {
        pos++;
      }
      if (pos == frac) {
        throw new MalformedJsonException("digit expected after '.'", pos);
      }
    }
    if (pos < end && (buf[pos] == 'e' || buf[pos] == 'E')) {
      pos++;
      if (pos < end && (buf[pos] == '+' || buf[pos] == '-')) {
        pos++;
      }
      int exp = pos;
      while (pos < end && buf[pos] >= '0' && buf[pos] <= '9') {
        pos++;
      }
      if (pos == exp) {
        throw new MalformedJsonException("digit expected in exponent of number starting", start);
      }
    }
    return pos;
  }

  /** Skips a string starting at its opening quote; validates escapes. */
  static int skipString(byte[] buf, int pos, int end) throws MalformedJsonException {
    int start = pos++;
    while (pos < end) {
      byte b = buf[pos++];
      if (b == '"') {
        return pos;
      }
      if (b == '\\') {
        if (pos >= end) {
          break;
        }
        byte e = buf[pos++];
        if (e == 'u') {
          if (pos + 4 > end) {
            break;
          }
          for (int i = 0; i < 4; i++) {
            if (Character.digit(buf[pos + i], 16) < 0) {
              throw new MalformedJsonException("invalid \\u escape", pos);
            }
          }
          pos += 4;
        } else if ("\"\\/bfnrt".indexOf(e) < 0) {
          throw new MalformedJsonException("invalid escape \\" + (char) e, pos - 1);
        }
      } else if ((b & 0xff) < 0x20) {
        throw new MalformedJsonException("control character in string", pos - 1);
      }
    }
    throw new MalformedJsonException("unterminated string", start);
  }

  /** Decodes the string whose opening quote is at {@code pos}; {@code end[0]} receives the position after it. */
  static String readString(byte[] buf, int pos, int limit, int[] end) throws MalformedJsonException {
    int close = skipString(buf, pos, limit);
    end[0] = close;
    int from = pos + 1;
    int to = close - 1;
    boolean plain = true;
    for (int i = from; i < to; i++) {
      if (buf[i] == '\\' || buf[i] < 0) {
        plain = false;
        break;
      }
    }
    if (plain) {
      return new String(buf, from, to - from, java.nio.charset.StandardCharsets.ISO_8859_1);
    }
    StringBuilder sb = new StringBuilder(to - from);
    int i = from;
    while (i < to) {
      byte b = buf[i];
      if (b == '\\') {
        byte e = buf[i + 1];
        switch (e) {
          case 'u':
            sb.append((char) Integer.parseInt(new String(buf, i + 2, 4,
                java.nio.charset.StandardCharsets.ISO_8859_1), 16));
            i += 6;
            continue;
          case 'b': sb.append('\b'); break;
          case 'f': sb.append('\f'); break;
          case 'n': sb.append('\n'); break;
          case 'r': sb.append('\r'); break;
          case 't': sb.append('\t'); break;
          default: sb.append((char) e);
        }
        i += 2;
      } else if (b >= 0) {
        sb.append((char) b);
        i++;
      } else {
        // A raw UTF-8 sequence (another writer may not escape): decode it as a run.
        int j = i;
        while (j < to && buf[j] < 0) {
          j++;
        }
        sb.append(new String(buf, i, j - i, java.nio.charset.StandardCharsets.UTF_8));
        i = j;
      }
    }
    return sb.toString();
  }

  /** Appends {@code s} as a JSON string the way Python's {@code json.dumps(ensure_ascii=True)} does. */
  static void writeString(ByteSink out, String s) {
    out.write('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"': out.write('\\'); out.write('"'); break;
        case '\\': out.write('\\'); out.write('\\'); break;
        case '\n': out.write('\\'); out.write('n'); break;
        case '\r': out.write('\\'); out.write('r'); break;
        case '\t': out.write('\\'); out.write('t'); break;
        case '\b': out.write('\\'); out.write('b'); break;
        case '\f': out.write('\\'); out.write('f'); break;
        default:
          if (c < 0x20 || c > 0x7e) {
            out.write('\\');
            out.write('u');
            out.write(HEX[(c >> 12) & 0xf]);
            out.write(HEX[(c >> 8) & 0xf]);
            out.write(HEX[(c >> 4) & 0xf]);
            out.write(HEX[c & 0xf]);
          } else {
            out.write(c);
          }
      }
    }
    out.write('"');
  }

  private static final byte[] HEX = "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  /**
   * Writes the valid JSON value {@code buf[from, to)} re-indented as Python's
   * {@code json.dump(indent=4)} lays it out when it stands at nesting {@code depth}: one member
   * or element per line, {@code ": "} after names, {@code {}} and {@code []} when empty. Only
   * whitespace outside strings changes, so the value's meaning is untouched.
   */
  static void writeIndented(ByteSink out, byte[] buf, int from, int to, int depth) {
    int i = from;
    while (i < to) {
      byte b = buf[i];
      if (isWhitespace(b)) {
        i++;
        continue;
      }
      switch (b) {
        case '"': {
          int start = i++;
          while (buf[i] != '"') {
            i += buf[i] == '\\' ? 2 : 1;
          }
          i++;
          out.write(buf, start, i - start);
          continue;
        }
        case '{':
        case '[': {
          int inner = skipWhitespace(buf, i + 1, to);
          byte close = b == '{' ? (byte) '}' : (byte) ']';
          out.write(b);
          if (buf[inner] == close) {
            out.write(close);
            i = inner + 1;
            continue;
          }
          depth++;
          newline(out, depth);
          i++;
          continue;
        }
        case '}':
        case ']':
          depth--;
          newline(out, depth);
          out.write(b);
          i++;
          continue;
        case ',':
          out.write(',');
          newline(out, depth);
          i++;
          continue;
        case ':':
          out.write(':');
          out.write(' ');
          i++;
          continue;
        default:
          out.write(b);
          i++;
      }
    }
  }

  /**
   * Deeper than this, values are written without line breaks: indent-4 layout costs O(depth²)
   * bytes, and a value nested 30,000 deep would render to gigabytes. Python's own files stay exact.
   */
  static final int MAX_INDENTED_DEPTH = 64;

  static void newline(ByteSink out, int depth) {
    if (depth > MAX_INDENTED_DEPTH) {
      return;
    }
    out.write('\n');
    for (int i = 0; i < depth * 4; i++) {
      out.write(' ');
    }
  }

  /**
   * The value as the codec would write it: no whitespace outside strings (a journal line must not
   * contain a line break) and strings re-escaped ASCII-only as Python does.
   */
  static byte[] compact(Encoded value) throws MalformedJsonException {
    byte[] buf = value.buf;
    int end = value.offset + value.length;
    JsonText.skipValue(buf, value.offset, end); // validates, so the loop below can trust the structure
    ByteSink out = new ByteSink(value.length);
    int[] after = new int[1];
    int i = value.offset;
    while (i < end) {
      byte b = buf[i];
      if (JsonText.isWhitespace(b)) {
        i++;
      } else if (b == '"') {
        String s = JsonText.readString(buf, i, end, after);
        JsonText.writeString(out, s);
        i = after[0];
      } else {
        out.write(b);
        i++;
      }
    }
    return out.toByteArray();
  }
}
