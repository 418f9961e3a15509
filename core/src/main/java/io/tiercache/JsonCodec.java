package io.tiercache;

import com.jsoniter.JsonIterator;
import com.jsoniter.ValueType;
import com.jsoniter.output.JsonStream;
import com.jsoniter.spi.Config;
import com.jsoniter.spi.JsonException;
import io.tiercache.JsonText.MalformedJsonException;
import java.io.IOException;
import java.io.OutputStream;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.SortedSet;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * The default {@link Codec}: a reflection-built binder per type over jsoniter's streaming reader
 * and writer. jsoniter does the token work (its string escaping is exactly Python's
 * {@code ensure_ascii}); the binding is ours, because jsoniter 0.9's own binding knows neither
 * records nor Python's {@code NaN}, and writes doubles with six decimals.
 *
 * <ul>
 *   <li>Records bind through their canonical constructor; other classes through a no-argument
 *       constructor and their non-static, non-{@code transient} fields (a public getter or setter
 *       is used when there is one). {@code transient} fields are never written nor read.
 *   <li>{@code Object} values bind naturally: objects to {@code LinkedHashMap}, arrays to
 *       {@code ArrayList}, integral numbers to {@code Long} (or {@code BigInteger} past its
 *       range), other numbers to {@code Double}; so free-form metadata round-trips unchanged.
 *   <li>Doubles are written with {@link Double#toString} (exact round trip); {@code NaN} and
 *       infinities as Python's bare {@code NaN}, {@code Infinity}, {@code -Infinity}, which are
 *       also read.
 *   <li>Unknown members are skipped; missing ones keep the constructor's defaults.
 * </ul>
 *
 * Nesting is limited to {@value #MAX_DEPTH} levels both ways, so cyclic graphs and hostile input
 * fail with a {@link CodecException} rather than a stack overflow.
 */
final class JsonCodec<T> implements Codec<T> {
  static final int MAX_DEPTH = 512;
  private static final ConcurrentHashMap<Type, JsonCodec<?>> CODECS = new ConcurrentHashMap<>();
  private static final ConcurrentHashMap<Type, Binder> BINDERS = new ConcurrentHashMap<>();
  private static final Config CONFIG = new Config.Builder().escapeUnicode(true).indentionStep(0).build();
  /**
   * Python's bare {@code NaN} and {@code Infinity} as jsoniter reads them: rewritten into number
   * tokens ({@code -Infinity} already is one). A stand-in must be a number token, never a string:
   * any string, however odd, is a user's value (issue 12: {@code "\u0000NaN"} came back a Double).
   * Valid JSON numbers hold no letter but {@code e}, so these texts cannot come from anywhere else.
   */
  private static final String NAN = "0NaN";
  private static final String POSITIVE_INFINITY = "0Infinity";
  private static final String NEGATIVE_INFINITY = "-Infinity";

  private static final ThreadLocal<Output> OUTPUT = ThreadLocal.withInitial(Output::new);

  private final Type type;
  private final Binder binder;

  private JsonCodec(Type type, Binder binder) {
    this.type = type;
    this.binder = binder;
  }

  @SuppressWarnings("unchecked")
  static <T> JsonCodec<T> forType(Type type) {
    JsonCodec<?> codec = CODECS.get(type);
    if (codec == null) {
      codec = new JsonCodec<>(type, binder(type));
      JsonCodec<?> raced = CODECS.putIfAbsent(type, codec);
      codec = raced != null ? raced : codec;
    }
    return (JsonCodec<T>) codec;
  }

  @Override
  public byte[] encode(@Nullable T value) {
    Output out = OUTPUT.get();
    out.reset(); // also after an encode that failed half-way
    try {
      binder.write(out.stream, value, 0);
      out.stream.flush();
      return out.sink.toByteArray();
    } catch (Mismatch e) {
      throw new CodecException(type, e.describe(), e);
    } catch (IOException | JsonException e) {
      throw new CodecException(type, "cannot encode: " + e.getMessage(), e);
    } finally {
      if (out.sink.size() > 1 << 20) {
        OUTPUT.remove(); // do not keep a huge buffer per thread
      }
    }
  }

  @Override
  @SuppressWarnings("unchecked")
  public @Nullable T decode(byte[] bytes, int offset, int length) {
    int end = offset + length;
    try {
      int after = JsonText.skipValue(bytes, offset, end); // validates; jsoniter is lenient
      if (JsonText.skipWhitespace(bytes, after, end) != end) {
        throw new CodecException(type, "unexpected bytes after the value at byte " + (after - offset), null);
      }
      if (hasNonFiniteTokens(bytes, offset, end)) {
        bytes = replaceNonFiniteTokens(bytes, offset, end);
        offset = 0;
        end = bytes.length;
      }
      return (T) binder.read(JsonIterator.parse(bytes, offset, end), 0);
    } catch (MalformedJsonException e) {
      throw new CodecException(type, "not valid JSON: " + e.getMessage(), e);
    } catch (Mismatch e) {
      throw new CodecException(type, e.describe(), e);
    } catch (IOException | JsonException | ArrayIndexOutOfBoundsException e) {
      throw new CodecException(type, "cannot decode: " + e.getMessage(), e);
    }
  }

  @Override
  public String toString() {
    return "JsonCodec[" + type.getTypeName() + "]";
  }

  /** A reusable JsonStream over an unsynchronized buffer. */
  private static final class Output {
    final ByteSink sink = new ByteSink(256);
    final OutputStream target = new OutputStream() {
      @Override
      public void write(int b) {
        sink.write(b);
      }

      @Override
      public void write(byte[] b, int off, int len) {
        sink.write(b, off, len);
      }
    };
    final JsonStream stream = new JsonStream(target, 512);

    Output() {
      stream.configCache = CONFIG;
    }

    void reset() {
      sink.reset();
      stream.reset(target); // drops bytes buffered in the stream, not yet in the sink
    }
  }

  // ---------------------------------------------------------------- errors

  /** A value that does not fit its type; carries the member path for the message. */
  static final class Mismatch extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final StringBuilder path = new StringBuilder();

    Mismatch(String message) {
      super(message, null, false, false);
    }

    Mismatch at(String segment) {
      path.insert(0, segment);
      return this;
    }

    String describe() {
      return (path.length() == 0 ? "" : "at " + path + ": ") + getMessage();
    }
  }

  private static Mismatch expected(String what, JsonIterator in) throws IOException {
    return new Mismatch("expected " + what + " but found " + describe(in.whatIsNext()));
  }

  private static String describe(ValueType type) {
    switch (type) {
      case STRING: return "a string";
      case NUMBER: return "a number";
      case BOOLEAN: return "a boolean";
      case ARRAY: return "an array";
      case OBJECT: return "an object";
      case NULL: return "null";
      default: return "invalid JSON";
    }
  }

  private static void checkDepth(int depth) {
    if (depth > MAX_DEPTH) {
      throw new Mismatch("nesting deeper than " + MAX_DEPTH + " levels (a cyclic object graph?)");
    }
  }

  // ---------------------------------------------------------------- Python's NaN and infinities

  /** True when a validated value holds a bare {@code NaN} or {@code Infinity} (outside strings). */
  static boolean hasNonFiniteTokens(byte[] buf, int from, int to) {
    boolean inString = false;
    for (int i = from; i < to; i++) {
      byte b = buf[i];
      if (inString) {
        if (b == '\\') {
          i++;
        } else if (b == '"') {
          inString = false;
        }
      } else if (b == '"') {
        inString = true;
      } else if ((b == 'N' || b == 'I') && (i == from || buf[i - 1] != '-')) { // -Infinity is a number token already
        return true;
      }
    }
    return false;
  }

  /** Copies a validated value with each bare NaN/Infinity token prefixed by a 0: a number token to jsoniter. */
  private static byte[] replaceNonFiniteTokens(byte[] buf, int from, int to) {
    ByteSink out = new ByteSink(to - from + 16);
    boolean inString = false;
    for (int i = from; i < to; i++) {
      byte b = buf[i];
      if (inString) {
        if (b == '\\') {
          out.write(b);
          b = buf[++i];
        } else if (b == '"') {
          inString = false;
        }
      } else if (b == '"') {
        inString = true;
      } else if ((b == 'N' || b == 'I') && (i == from || buf[i - 1] != '-')) {
        String token = b == 'N' ? NAN : POSITIVE_INFINITY;
        out.writeAscii(token);
        i += token.length() - 2; // the literal, validated already, minus the byte the loop steps over
        continue;
      }
      out.write(b);
    }
    return out.toByteArray();
  }

  /** The double a number token stands for, when it is one of Python's non-finite tokens; else null. */
  private static @Nullable Double nonFinite(String numberText) {
    switch (numberText) {
      case NAN: return Double.NaN;
      case POSITIVE_INFINITY: return Double.POSITIVE_INFINITY;
      case NEGATIVE_INFINITY: return Double.NEGATIVE_INFINITY;
      default: return null;
    }
  }

  static void writeString(JsonStream out, String s) throws IOException {
    out.writeVal(readable(s));
  }

  /**
   * {@code s}, unless it holds an unpaired surrogate: written as a lone {@code \\uD800} escape, it
   * would be stored and then fail every read (jsoniter refuses it), so it fails the write instead.
   */
  static String readable(String s) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isSurrogate(c)) {
        if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
          i++;
        } else {
          throw new Mismatch(String.format("a string holds an unpaired surrogate (\\u%04x at index %d), which"
              + " cannot be read back", (int) c, i));
        }
      }
    }
    return s;
  }

  static void writeDouble(JsonStream out, double d) throws IOException {
    if (Double.isNaN(d)) {
      out.writeRaw("NaN");
    } else if (Double.isInfinite(d)) {
      out.writeRaw(d > 0 ? "Infinity" : "-Infinity");
    } else {
      out.writeRaw(pythonRepr(d)); // exact; jsoniter's writeVal(double) keeps six decimals
    }
  }

  /**
   * A finite double as Python's {@code repr} writes it, so snapshots match {@code json.dump}
   * byte for byte: the shortest digits that round-trip, fixed notation for decimal exponents in
   * [-4, 16) ({@code 0.0001}, {@code 12345678.0}), else {@code 1.5e-07}, {@code 1e+20}.
   */
  static String pythonRepr(double d) {
    if (d == 0) {
      return (1 / d < 0) ? "-0.0" : "0.0";
    }
    double magnitude = Math.abs(d);
    if (magnitude >= 1e-3 && magnitude < 1e7) {
      return Double.toString(d); // both print plain shortest digits here; the BigDecimal path costs a microsecond
    }
    BigDecimal value = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
    String digits = value.unscaledValue().toString();
    int exponent = digits.length() - 1 - value.scale();
    StringBuilder sb = new StringBuilder(24);
    if (d < 0) {
      sb.append('-');
    }
    if (exponent >= -4 && exponent < 16) {
      String plain = value.toPlainString();
      sb.append(plain);
      if (plain.indexOf('.') < 0) {
        sb.append(".0");
      }
    } else {
      sb.append(digits.charAt(0));
      if (digits.length() > 1) {
        sb.append('.').append(digits, 1, digits.length());
      }
      sb.append(exponent < 0 ? "e-" : "e+");
      int e = Math.abs(exponent);
      if (e < 10) {
        sb.append('0');
      }
      sb.append(e);
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------- binders

  /** Writes and reads one type. */
  interface Binder {
    void write(JsonStream out, @Nullable Object value, int depth) throws IOException;

    @Nullable Object read(JsonIterator in, int depth) throws IOException;

    /** The value a missing member gets. */
    default @Nullable Object absent() {
      return null;
    }
  }

  static Binder binder(Type type) {
    Binder binder = BINDERS.get(type);
    if (binder != null && !(binder instanceof Deferred && ((Deferred) binder).target == null)) {
      return binder;
    }
    // One creation at a time (it is rare): a thread must not use another's unfinished placeholder,
    // while the creating thread itself needs it for recursive types (a Node with List<Node>).
    synchronized (BINDERS) {
      binder = BINDERS.get(type);
      if (binder != null) {
        return binder; // finished, or this thread's own placeholder
      }
      Deferred deferred = new Deferred();
      BINDERS.put(type, deferred);
      try {
        binder = create(type);
      } catch (RuntimeException e) {
        deferred.failure = e;
        BINDERS.remove(type, deferred);
        throw e;
      }
      deferred.target = binder;
      BINDERS.put(type, binder);
      return binder;
    }
  }

  private static final class Deferred implements Binder {
    volatile Binder target;
    volatile RuntimeException failure;

    /**
     * The real binder. Only another thread can find it unset (the creating thread never reads or
     * writes through a placeholder while it builds the binder): that thread waits the moment it
     * takes to build one.
     */
    private Binder target() {
      Binder t;
      while ((t = target) == null) {
        if (failure != null) {
          throw failure;
        }
        Thread.onSpinWait();
      }
      return t;
    }

    @Override
    public void write(JsonStream out, @Nullable Object value, int depth) throws IOException {
      target().write(out, value, depth);
    }

    @Override
    public @Nullable Object read(JsonIterator in, int depth) throws IOException {
      return target().read(in, depth);
    }

    @Override
    public @Nullable Object absent() {
      return target().absent();
    }
  }

  private static Binder create(Type type) {
    if (type instanceof WildcardType) {
      Type[] upper = ((WildcardType) type).getUpperBounds();
      return binder(upper.length == 0 ? Object.class : upper[0]);
    }
    if (type instanceof TypeVariable) {
      Type[] bounds = ((TypeVariable<?>) type).getBounds();
      return binder(bounds.length == 0 ? Object.class : bounds[0]);
    }
    if (type instanceof GenericArrayType) {
      return new ArrayBinder(Object.class, binder(((GenericArrayType) type).getGenericComponentType()));
    }
    Class<?> raw = rawClass(type);
    Type[] args = type instanceof ParameterizedType ? ((ParameterizedType) type).getActualTypeArguments() : null;
    Binder scalar = Scalars.forClass(raw);
    if (scalar != null) {
      return scalar;
    }
    if (raw == Object.class) {
      return NaturalBinder.INSTANCE;
    }
    if (raw.isEnum()) {
      return new EnumBinder(raw);
    }
    if (raw.isArray()) {
      return new ArrayBinder(raw.getComponentType(), binder(raw.getComponentType()));
    }
    if (raw == Optional.class) {
      return new OptionalBinder(binder(args == null ? Object.class : args[0]));
    }
    if (Map.class.isAssignableFrom(raw)) {
      return new MapBinder(raw, args == null ? String.class : args[0], binder(args == null ? Object.class : args[1]));
    }
    if (Iterable.class.isAssignableFrom(raw)) {
      return new CollectionBinder(raw, binder(args == null ? Object.class : args[0]));
    }
    if (raw.isRecord()) {
      return RecordBinder.of(raw);
    }
    if (raw.isInterface() || Modifier.isAbstract(raw.getModifiers()) || raw.isPrimitive()) {
      throw new CodecException(type, "an interface or abstract class has no fields to bind;"
          + " use a concrete class, a record or Object", null);
    }
    return BeanBinder.of(raw);
  }

  static Class<?> rawClass(Type type) {
    if (type instanceof Class) {
      return (Class<?>) type;
    }
    if (type instanceof ParameterizedType) {
      return (Class<?>) ((ParameterizedType) type).getRawType();
    }
    if (type instanceof GenericArrayType) {
      return Array.newInstance(rawClass(((GenericArrayType) type).getGenericComponentType()), 0).getClass();
    }
    return Object.class;
  }

  // ---------------------------------------------------------------- scalars

  /**
   * A finite number's exact text, for conversion with range checks. Python's {@code NaN} and
   * infinities are numbers only to doubles ({@link #numberToken}): anywhere else they do not fit.
   */
  static String numberText(JsonIterator in) throws IOException {
    String text = numberToken(in);
    if (nonFinite(text) != null) {
      throw new Mismatch("expected a finite number but found " + (text.charAt(0) == '0' ? text.substring(1) : text));
    }
    return text;
  }

  /** The exact text of the number token at {@code in}, which may be one of {@link #nonFinite}'s. */
  static String numberToken(JsonIterator in) throws IOException {
    return in.readAny().toString();
  }

  private static final class Scalars {
    private Scalars() {}

    static @Nullable Binder forClass(Class<?> c) {
      if (c == String.class) {
        return STRING;
      }
      if (c == boolean.class || c == Boolean.class) {
        return scalar(c == boolean.class ? Boolean.FALSE : null, (out, v) -> out.writeVal((boolean) (Boolean) v),
            in -> {
              if (in.whatIsNext() != ValueType.BOOLEAN) {
                throw expected("a boolean", in);
              }
              return in.readBoolean();
            });
      }
      if (c == long.class || c == Long.class) {
        return integral(c == long.class ? 0L : null, Long.MIN_VALUE, Long.MAX_VALUE, BigInteger::longValue);
      }
      if (c == int.class || c == Integer.class) {
        return integral(c == int.class ? 0 : null, Integer.MIN_VALUE, Integer.MAX_VALUE, BigInteger::intValue);
      }
      if (c == short.class || c == Short.class) {
        return integral(c == short.class ? (short) 0 : null, Short.MIN_VALUE, Short.MAX_VALUE, BigInteger::shortValue);
      }
      if (c == byte.class || c == Byte.class) {
        return integral(c == byte.class ? (byte) 0 : null, Byte.MIN_VALUE, Byte.MAX_VALUE, BigInteger::byteValue);
      }
      if (c == double.class || c == Double.class) {
        return scalar(c == double.class ? 0.0 : null, (out, v) -> writeDouble(out, (Double) v), Scalars::readDouble);
      }
      if (c == float.class || c == Float.class) {
        return scalar(c == float.class ? 0.0f : null, (out, v) -> {
          float f = (Float) v;
          if (Float.isFinite(f)) {
            out.writeRaw(Float.toString(f));
          } else {
            writeDouble(out, f);
          }
        }, in -> (float) (double) readDouble(in));
      }
      if (c == char.class || c == Character.class) {
        return scalar(c == char.class ? '\0' : null, (out, v) -> writeString(out, String.valueOf(v)), in -> {
          String s = readString(in);
          if (s.length() != 1) {
            throw new Mismatch("expected a one-character string but found \"" + s + "\"");
          }
          return s.charAt(0);
        });
      }
      if (c == BigDecimal.class) {
        return scalar(null, (out, v) -> out.writeRaw(v.toString()), in -> {
          requireNumber(in);
          return new BigDecimal(numberText(in));
        });
      }
      if (c == BigInteger.class) {
        return scalar(null, (out, v) -> out.writeRaw(v.toString()), in -> {
          requireNumber(in);
          String text = numberText(in);
          try {
            return new BigDecimal(text).toBigIntegerExact();
          } catch (ArithmeticException e) {
            throw new Mismatch("expected an integer but found " + text);
          }
        });
      }
      if (c == Instant.class) {
        return scalar(null, (out, v) -> out.writeVal(v.toString()), in -> {
          if (in.whatIsNext() == ValueType.NUMBER) {
            BigDecimal seconds = new BigDecimal(numberText(in));
            return Instant.ofEpochSecond(seconds.longValue(),
                seconds.remainder(BigDecimal.ONE).movePointRight(9).intValue());
          }
          String s = readString(in);
          try {
            return Instant.parse(s);
          } catch (DateTimeParseException e) {
            throw new Mismatch("expected an ISO-8601 instant but found \"" + s + "\"");
          }
        });
      }
      if (c == UUID.class) {
        return scalar(null, (out, v) -> out.writeVal(v.toString()), in -> {
          String s = readString(in);
          try {
            return UUID.fromString(s);
          } catch (IllegalArgumentException e) {
            throw new Mismatch("expected a UUID but found \"" + s + "\"");
          }
        });
      }
      return null;
    }

    static final Binder STRING = scalar(null, (out, v) -> writeString(out, (String) v), Scalars::readString);

    static String readString(JsonIterator in) throws IOException {
      if (in.whatIsNext() != ValueType.STRING) {
        throw expected("a string", in);
      }
      return in.readString();
    }

    static void requireNumber(JsonIterator in) throws IOException {
      if (in.whatIsNext() != ValueType.NUMBER) {
        throw expected("a number", in);
      }
    }

    static Double readDouble(JsonIterator in) throws IOException {
      requireNumber(in);
      String text = numberToken(in);
      Double special = nonFinite(text);
      return special != null ? special : Double.parseDouble(text);
    }

    interface Writer {
      void write(JsonStream out, Object value) throws IOException;
    }

    interface Reader {
      Object read(JsonIterator in) throws IOException;
    }

    static Binder scalar(@Nullable Object absent, Writer writer, Reader reader) {
      return new Binder() {
        @Override
        public void write(JsonStream out, @Nullable Object value, int depth) throws IOException {
          if (value == null) {
            out.writeNull();
          } else {
            writer.write(out, value);
          }
        }

        @Override
        public @Nullable Object read(JsonIterator in, int depth) throws IOException {
          if (in.readNull()) {
            return absent;
          }
          return reader.read(in);
        }

        @Override
        public @Nullable Object absent() {
          return absent;
        }
      };
    }

    static Binder integral(@Nullable Object absent, long min, long max, Function<BigInteger, Object> convert) {
      return scalar(absent, (out, v) -> out.writeVal(((Number) v).longValue()), in -> {
        requireNumber(in);
        String text = numberText(in);
        BigInteger value;
        try {
          value = new BigDecimal(text).toBigIntegerExact();
        } catch (ArithmeticException e) {
          throw new Mismatch("expected an integer but found " + text);
        }
        if (value.compareTo(BigInteger.valueOf(min)) < 0 || value.compareTo(BigInteger.valueOf(max)) > 0) {
          throw new Mismatch(text + " is out of range [" + min + ", " + max + "]");
        }
        return convert.apply(value);
      });
    }
  }

  // ---------------------------------------------------------------- Object: the natural mapping

  private static final class NaturalBinder implements Binder {
    static final NaturalBinder INSTANCE = new NaturalBinder();

    @Override
    public void write(JsonStream out, @Nullable Object value, int depth) throws IOException {
      if (value == null) {
        out.writeNull();
      } else if (value.getClass() == Object.class) {
        out.writeEmptyObject();
      } else if (value instanceof Map) {
        binder(Map.class).write(out, value, depth); // by interface: List.of() has no constructor to bind
      } else if (value instanceof Iterable) {
        binder(Iterable.class).write(out, value, depth);
      } else {
        binder(value.getClass()).write(out, value, depth);
      }
    }

    @Override
    public @Nullable Object read(JsonIterator in, int depth) throws IOException {
      checkDepth(depth);
      switch (in.whatIsNext()) {
        case NULL:
          in.skip();
          return null;
        case BOOLEAN:
          return in.readBoolean();
        case STRING:
          return in.readString();
        case NUMBER:
          return naturalNumber(numberToken(in));
        case ARRAY: {
          List<Object> list = new ArrayList<>();
          int i = 0;
          while (in.readArray()) {
            try {
              list.add(read(in, depth + 1));
            } catch (Mismatch e) {
              throw e.at("[" + i + "]");
            }
            i++;
          }
          return list;
        }
        case OBJECT: {
          Map<String, Object> map = new LinkedHashMap<>();
          for (String name = in.readObject(); name != null; name = in.readObject()) {
            try {
              map.put(name, read(in, depth + 1));
            } catch (Mismatch e) {
              throw e.at("." + name);
            }
          }
          return map;
        }
        default:
          throw new Mismatch("invalid JSON");
      }
    }

    /** Long when integral and in range, BigInteger when integral beyond it, else Double: Python's int/float. */
    static Object naturalNumber(String text) {
      Double special = nonFinite(text);
      if (special != null) {
        return special;
      }
      boolean integral = true;
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        if (c == '.' || c == 'e' || c == 'E') {
          integral = false;
          break;
        }
      }
      if (!integral) {
        return Double.parseDouble(text);
      }
      try {
        return Long.parseLong(text);
      } catch (NumberFormatException tooBig) {
        return new BigInteger(text);
      }
    }
  }

  // ---------------------------------------------------------------- containers

  private static final class EnumBinder implements Binder {
    private final Class<?> type;
    private final Object[] constants;

    EnumBinder(Class<?> type) {
      this.type = type;
      this.constants = type.getEnumConstants();
    }

    @Override
    public void write(JsonStream out, @Nullable Object value, int depth) throws IOException {
      if (value == null) {
        out.writeNull();
      } else {
        out.writeVal(((Enum<?>) value).name());
      }
    }

    @Override
    public @Nullable Object read(JsonIterator in, int depth) throws IOException {
      if (in.readNull()) {
        return null;
      }
      String s = Scalars.readString(in);
      for (Object c : constants) {
        if (((Enum<?>) c).name().equals(s)) {
          return c;
        }
      }
      for (Object c : constants) {
        if (((Enum<?>) c).name().equalsIgnoreCase(s) || c.toString().equals(s)) {
          return c; // Python enums are often written by value, in lower case
        }
      }
      throw new Mismatch("\"" + s + "\" is not a constant of " + type.getName());
    }
  }

  private static final class OptionalBinder implements Binder {
    private final Binder element;

    OptionalBinder(Binder element) {
      this.element = element;
    }

    @Override
    public void write(JsonStream out, @Nullable Object value, int depth) throws IOException {
      Optional<?> o = (Optional<?>) value;
      element.write(out, o == null ? null : o.orElse(null), depth);
    }

    @Override
    public Object read(JsonIterator in, int depth) throws IOException {
      return Optional.ofNullable(element.read(in, depth));
    }

    @Override
    public Object absent() {
      return Optional.empty();
    }
  }

  private static final class ArrayBinder implements Binder {
    private final Class<?> component;
    private final Binder element;

    ArrayBinder(Class<?> component, Binder element) {
      this.component = component;
      this.element = element;
    }

    @Override
    public void write(JsonStream out, @Nullable Object value, int depth) throws IOException {
      if (value == null) {
        out.writeNull();
        return;
      }
      checkDepth(depth);
      int n = Array.getLength(value);
      if (n == 0) {
        out.writeEmptyArray();
        return;
      }
      out.writeArrayStart();
      for (int i = 0; i < n; i++) {
        if (i > 0) {
          out.writeMore();
        }
        element.write(out, Array.get(value, i), depth + 1);
      }
      out.writeArrayEnd();
    }

    @Override
    public @Nullable Object read(JsonIterator in, int depth) throws IOException {
      if (in.readNull()) {
        return null;
      }
      checkDepth(depth);
      if (in.whatIsNext() != ValueType.ARRAY) {
        throw expected("an array", in);
      }
      List<Object> items = new ArrayList<>();
      while (in.readArray()) {
        try {
          items.add(element.read(in, depth + 1));
        } catch (Mismatch e) {
          throw e.at("[" + items.size() + "]");
        }
      }
      Object array = Array.newInstance(component, items.size());
      for (int i = 0; i < items.size(); i++) {
        Object item = items.get(i);
        if (item == null && component.isPrimitive()) {
          continue; // null into a primitive keeps the default
        }
        Array.set(array, i, item);
      }
      return array;
    }
  }

  private static final class CollectionBinder implements Binder {
    private final Supplier<Collection<Object>> factory;
    private final Binder element;

    CollectionBinder(Class<?> raw, Binder element) {
      this.element = element;
      this.factory = collectionFactory(raw);
    }

    @SuppressWarnings("unchecked")
    private static Supplier<Collection<Object>> collectionFactory(Class<?> raw) {
      if (raw.isAssignableFrom(ArrayList.class)) {
        return ArrayList::new;
      }
      if (raw.isAssignableFrom(LinkedHashSet.class)) {
        return LinkedHashSet::new;
      }
      if (raw.isAssignableFrom(TreeSet.class) || raw == SortedSet.class) {
        return TreeSet::new;
      }
      Supplier<Object> constructor = noArgConstructor(raw);
      return () -> (Collection<Object>) constructor.get();
    }

    @Override
    public void write(JsonStream out, @Nullable Object value, int depth) throws IOException {
      if (value == null) {
        out.writeNull();
        return;
      }
      checkDepth(depth);
      boolean first = true;
      for (Object item : (Iterable<?>) value) {
        if (first) {
          out.writeArrayStart();
          first = false;
        } else {
          out.writeMore();
        }
        element.write(out, item, depth + 1);
      }
      if (first) {
        out.writeEmptyArray();
      } else {
        out.writeArrayEnd();
      }
    }

    @Override
    public @Nullable Object read(JsonIterator in, int depth) throws IOException {
      if (in.readNull()) {
        return null;
      }
      checkDepth(depth);
      if (in.whatIsNext() != ValueType.ARRAY) {
        throw expected("an array", in);
      }
      Collection<Object> items = factory.get();
      int i = 0;
      while (in.readArray()) {
        try {
          items.add(element.read(in, depth + 1));
        } catch (Mismatch e) {
          throw e.at("[" + i + "]");
        }
        i++;
      }
      return items;
    }
  }

  private static final class MapBinder implements Binder {
    private final Supplier<Map<Object, Object>> factory;
    private final Function<String, Object> keyParser;
    private final Class<?> keyType;
    private final Binder value;

    @SuppressWarnings("unchecked")
    MapBinder(Class<?> raw, Type keyType, Binder value) {
      this.value = value;
      this.keyType = rawClass(keyType);
      this.keyParser = keyParser(this.keyType);
      if (raw.isAssignableFrom(LinkedHashMap.class)) {
        factory = LinkedHashMap::new;
      } else if (raw.isAssignableFrom(ConcurrentHashMap.class)) {
        factory = ConcurrentHashMap::new;
      } else if (raw.isAssignableFrom(TreeMap.class) || raw == SortedMap.class) {
        factory = TreeMap::new;
      } else {
        Supplier<Object> constructor = noArgConstructor(raw);
        factory = () -> (Map<Object, Object>) constructor.get();
      }
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    private static Function<String, Object> keyParser(Class<?> keyType) {
      if (keyType == String.class || keyType == Object.class || keyType == CharSequence.class) {
        return s -> s;
      }
      if (keyType == Integer.class) {
        return Integer::valueOf;
      }
      if (keyType == Long.class) {
        return Long::valueOf;
      }
      if (keyType == UUID.class) {
        return UUID::fromString;
      }
      if (keyType.isEnum()) {
        return s -> Enum.valueOf((Class) keyType, s);
      }
      throw new CodecException(keyType, "unsupported map key type: use String, Integer, Long, UUID or an enum", null);
    }

    @Override
    public void write(JsonStream out, @Nullable Object map, int depth) throws IOException {
      if (map == null) {
        out.writeNull();
        return;
      }
      checkDepth(depth);
      Map<?, ?> m = (Map<?, ?>) map;
      if (m.isEmpty()) {
        out.writeEmptyObject();
        return;
      }
      out.writeObjectStart();
      boolean first = true;
      for (Map.Entry<?, ?> e : m.entrySet()) {
        if (!first) {
          out.writeMore();
        }
        first = false;
        Object k = e.getKey();
        out.writeObjectField(readable(k instanceof Enum ? ((Enum<?>) k).name() : String.valueOf(k))); // Python's str(key)
        value.write(out, e.getValue(), depth + 1);
      }
      out.writeObjectEnd();
    }

    @Override
    public @Nullable Object read(JsonIterator in, int depth) throws IOException {
      if (in.readNull()) {
        return null;
      }
      checkDepth(depth);
      if (in.whatIsNext() != ValueType.OBJECT) {
        throw expected("an object", in);
      }
      Map<Object, Object> map = factory.get();
      for (String name = in.readObject(); name != null; name = in.readObject()) {
        Object key;
        try {
          key = keyParser.apply(name);
        } catch (IllegalArgumentException e) {
          throw new Mismatch("the key \"" + name + "\" is not a " + keyType.getSimpleName());
        }
        try {
          map.put(key, value.read(in, depth + 1));
        } catch (Mismatch e) {
          throw e.at("." + name);
        }
      }
      return map;
    }
  }

  // ---------------------------------------------------------------- records and classes

  /** One named member of a record or class. */
  private static final class Property {
    final String name;
    /** {@code "name":} as bytes, escaped once. */
    final byte[] prefix;
    final Binder binder;
    final MethodHandle getter;
    final @Nullable MethodHandle setter;

    Property(String name, Binder binder, MethodHandle getter, @Nullable MethodHandle setter) {
      this.name = name;
      ByteSink quoted = new ByteSink(name.length() + 3);
      JsonText.writeString(quoted, name);
      quoted.write(':');
      this.prefix = quoted.toByteArray();
      this.binder = binder;
      this.getter = getter.asType(MethodType.methodType(Object.class, Object.class));
      this.setter = setter == null ? null : setter.asType(MethodType.methodType(void.class, Object.class, Object.class));
    }

    Object get(Object target) {
      try {
        return getter.invokeExact(target);
      } catch (RuntimeException | Error e) {
        throw e;
      } catch (Throwable t) {
        throw new IllegalStateException(t);
      }
    }
  }

  private abstract static class ObjectBinder implements Binder {
    final Class<?> type;
    final Property[] properties;
    final Map<String, Integer> index = new LinkedHashMap<>();

    ObjectBinder(Class<?> type, List<Property> properties) {
      this.type = type;
      this.properties = properties.toArray(new Property[0]);
      for (int i = 0; i < this.properties.length; i++) {
        index.put(this.properties[i].name, i);
      }
    }

    @Override
    public void write(JsonStream out, @Nullable Object value, int depth) throws IOException {
      if (value == null) {
        out.writeNull();
        return;
      }
      checkDepth(depth);
      if (properties.length == 0) {
        out.writeEmptyObject();
        return;
      }
      out.writeObjectStart();
      for (int i = 0; i < properties.length; i++) {
        if (i > 0) {
          out.writeMore();
        }
        Property p = properties[i];
        out.write(p.prefix, 0, p.prefix.length);
        try {
          p.binder.write(out, p.get(value), depth + 1);
        } catch (Mismatch e) {
          throw e.at("." + p.name);
        }
      }
      out.writeObjectEnd();
    }

    /** Marks a member the JSON did not have. */
    static final Object MISSING = new Object();

    /**
     * Reads the members into an array by property index; unknown members are skipped, missing
     * ones are {@link #MISSING}.
     */
    final Object[] readMembers(JsonIterator in, int depth) throws IOException {
      checkDepth(depth);
      if (in.whatIsNext() != ValueType.OBJECT) {
        throw expected("an object for " + type.getName(), in);
      }
      Object[] values = new Object[properties.length];
      java.util.Arrays.fill(values, MISSING);
      for (String name = in.readObject(); name != null; name = in.readObject()) {
        Integer i = index.get(name);
        if (i == null) {
          in.skip();
          continue;
        }
        try {
          values[i] = properties[i].binder.read(in, depth + 1);
        } catch (Mismatch e) {
          throw e.at("." + name);
        }
      }
      return values;
    }
  }

  private static final class RecordBinder extends ObjectBinder {
    private final MethodHandle constructor;

    private RecordBinder(Class<?> type, List<Property> properties, MethodHandle constructor) {
      super(type, properties);
      this.constructor = constructor;
    }

    static RecordBinder of(Class<?> type) {
      RecordComponent[] components = type.getRecordComponents();
      List<Property> properties = new ArrayList<>();
      Class<?>[] parameterTypes = new Class<?>[components.length];
      try {
        MethodHandles.Lookup lookup = MethodHandles.lookup();
        for (int i = 0; i < components.length; i++) {
          RecordComponent c = components[i];
          parameterTypes[i] = c.getType();
          Method accessor = c.getAccessor();
          accessor.setAccessible(true);
          properties.add(new Property(c.getName(), binder(c.getGenericType()), lookup.unreflect(accessor), null));
        }
        Constructor<?> canonical = type.getDeclaredConstructor(parameterTypes);
        canonical.setAccessible(true);
        MethodHandle constructor = lookup.unreflectConstructor(canonical)
            .asSpreader(Object[].class, components.length)
            .asType(MethodType.methodType(Object.class, Object[].class));
        return new RecordBinder(type, properties, constructor);
      } catch (ReflectiveOperationException | RuntimeException e) {
        if (e instanceof CodecException) {
          throw (CodecException) e;
        }
        throw new CodecException(type, "cannot access the record's components (is its package open to tiercache?)", e);
      }
    }

    @Override
    public @Nullable Object read(JsonIterator in, int depth) throws IOException {
      if (in.readNull()) {
        return null;
      }
      Object[] values = readMembers(in, depth);
      for (int i = 0; i < values.length; i++) {
        if (values[i] == MISSING) {
          values[i] = properties[i].binder.absent();
        }
      }
      try {
        return constructor.invokeExact(values);
      } catch (RuntimeException e) {
        throw new Mismatch("the constructor of " + type.getName() + " rejected the values: " + e);
      } catch (Throwable t) {
        throw new IllegalStateException(t);
      }
    }
  }

  private static final class BeanBinder extends ObjectBinder {
    private final Supplier<Object> constructor;

    private BeanBinder(Class<?> type, List<Property> properties, Supplier<Object> constructor) {
      super(type, properties);
      this.constructor = constructor;
    }

    static BeanBinder of(Class<?> type) {
      Supplier<Object> constructor = noArgConstructor(type);
      List<Class<?>> hierarchy = new ArrayList<>();
      for (Class<?> c = type; c != null && c != Object.class; c = c.getSuperclass()) {
        hierarchy.add(0, c); // superclass members first
      }
      Map<String, Property> properties = new LinkedHashMap<>();
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      try {
        for (Class<?> c : hierarchy) {
          for (Field f : c.getDeclaredFields()) {
            int mod = f.getModifiers();
            if (Modifier.isStatic(mod) || Modifier.isTransient(mod) || f.isSynthetic()) {
              continue;
            }
            Method getter = publicMethod(type, "get" + capitalize(f.getName()));
            if (getter == null && (f.getType() == boolean.class || f.getType() == Boolean.class)) {
              getter = publicMethod(type, "is" + capitalize(f.getName()));
            }
            Method setter = publicMethod(type, "set" + capitalize(f.getName()), f.getType());
            f.setAccessible(true);
            MethodHandle get = getter != null ? lookup.unreflect(getter) : lookup.unreflectGetter(f);
            MethodHandle set = setter != null ? lookup.unreflect(setter)
                : Modifier.isFinal(mod) ? null : lookup.unreflectSetter(f);
            Type generic = getter != null ? getter.getGenericReturnType() : f.getGenericType();
            properties.put(f.getName(), new Property(f.getName(), binder(generic), get, set));
          }
        }
      } catch (IllegalAccessException | RuntimeException e) {
        if (e instanceof CodecException) {
          throw (CodecException) e;
        }
        throw new CodecException(type, "cannot access its fields (is its package open to tiercache?)", e);
      }
      return new BeanBinder(type, new ArrayList<>(properties.values()), constructor);
    }

    private static @Nullable Method publicMethod(Class<?> type, String name, Class<?>... parameters) {
      try {
        Method m = type.getMethod(name, parameters);
        return Modifier.isStatic(m.getModifiers()) ? null : m;
      } catch (NoSuchMethodException e) {
        return null;
      }
    }

    private static String capitalize(String name) {
      return name.substring(0, 1).toUpperCase(Locale.ROOT) + name.substring(1);
    }

    @Override
    public @Nullable Object read(JsonIterator in, int depth) throws IOException {
      if (in.readNull()) {
        return null;
      }
      Object[] values = readMembers(in, depth);
      Object target = constructor.get();
      for (int i = 0; i < properties.length; i++) {
        Property p = properties[i];
        Object v = values[i];
        if (p.setter == null || v == MISSING) {
          continue; // a final field, or not in the JSON: keep the constructor's value
        }
        try {
          p.setter.invokeExact(target, v);
        } catch (RuntimeException e) {
          throw new Mismatch("setting " + p.name + " failed: " + e).at("." + p.name);
        } catch (Throwable t) {
          throw new IllegalStateException(t);
        }
      }
      return target;
    }
  }

  static Supplier<Object> noArgConstructor(Class<?> type) {
    try {
      Constructor<?> c = type.getDeclaredConstructor();
      c.setAccessible(true);
      MethodHandle handle = MethodHandles.lookup().unreflectConstructor(c)
          .asType(MethodType.methodType(Object.class));
      return () -> {
        try {
          return handle.invokeExact();
        } catch (RuntimeException | Error e) {
          throw e;
        } catch (Throwable t) {
          throw new IllegalStateException(t);
        }
      };
    } catch (NoSuchMethodException e) {
      throw new CodecException(type, "no no-argument constructor; make it a record or add one", e);
    } catch (IllegalAccessException | RuntimeException e) {
      throw new CodecException(type, "cannot access its no-argument constructor", e);
    }
  }

}
