package io.tiercache;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The default time-to-live from the {@code CACHE_EXPIRY_TIME} environment variable, read the way
 * the Python SDK reads it: seconds, parsed like Python's {@code int()} (surrounding whitespace, an
 * optional sign and {@code _} between digits allowed; {@code 0} and negative values accepted, the
 * content is then born expired). Anything else logs one warning and falls back to 24 hours. As with
 * the builder's {@code expireAfter}, over about 292 years is taken as that ({@link StoreConfig#LONGEST}).
 */
final class ExpiryTime {
  static final String VARIABLE = "CACHE_EXPIRY_TIME";
  static final Duration DEFAULT = Duration.ofHours(24);
  private static final System.Logger LOG = System.getLogger(ExpiryTime.class.getName());
  private static final AtomicBoolean WARNED = new AtomicBoolean();

  private ExpiryTime() {}

  /** The TTL the environment asks for. */
  static Duration fromEnvironment() {
    return fromValue(System.getenv(VARIABLE));
  }

  static Duration fromValue(String value) {
    if (value == null) {
      return DEFAULT;
    }
    Long seconds = parsePythonInt(value);
    if (seconds == null) {
      if (WARNED.compareAndSet(false, true)) {
        LOG.log(System.Logger.Level.WARNING, "tiercache: " + VARIABLE + "='" + value
            + "' is not a whole number of seconds; using the default of " + DEFAULT.toSeconds() + " s");
      }
      return DEFAULT;
    }
    return Duration.ofSeconds(seconds);
  }

  /**
   * Python {@code int(str)} for base 10, or null when Python would raise ValueError. Python's int has
   * no range, so a number past a long is a valid one: it saturates to {@code Long.MAX_VALUE} (or
   * {@code MIN_VALUE}), which the TTL then takes as {@link StoreConfig#LONGEST}.
   */
  static Long parsePythonInt(String text) {
    String s = text.strip();
    int i = 0;
    boolean negative = false;
    if (!s.isEmpty() && (s.charAt(0) == '+' || s.charAt(0) == '-')) {
      negative = s.charAt(0) == '-';
      i = 1;
    }
    if (i == s.length()) {
      return null;
    }
    long value = 0;
    boolean overflowed = false;
    boolean lastWasDigit = false;
    for (; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '_') {
        if (!lastWasDigit) {
          return null; // "_1", "1__0" and a trailing "_" are errors in Python too
        }
        lastWasDigit = false;
        continue;
      }
      int digit = Character.digit(c, 10); // Python accepts any Unicode decimal digit
      if (digit < 0) {
        return null;
      }
      if (!overflowed) {
        try {
          value = Math.addExact(Math.multiplyExact(value, 10), digit);
        } catch (ArithmeticException e) { // keep reading: the rest must still be digits
          overflowed = true;
        }
      }
      lastWasDigit = true;
    }
    if (!lastWasDigit) {
      return null;
    }
    if (overflowed) {
      return negative ? Long.MIN_VALUE : Long.MAX_VALUE;
    }
    return negative ? -value : value;
  }
}
