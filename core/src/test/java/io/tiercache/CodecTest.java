package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The default JSON codec: what it writes, what it reads, and how it refuses. */
class CodecTest {

  static <T> String encode(Class<T> type, T value) {
    return new String(Codec.json(type).encode(value), UTF_8);
  }

  static <T> T decode(Class<T> type, String json) {
    byte[] b = json.getBytes(UTF_8);
    return Codec.json(type).decode(b, 0, b.length);
  }

  record Point(int x, int y) {}

  record Everything(String s, char c, boolean b, byte by, short sh, int i, long l, float f, double d,
      BigDecimal money, BigInteger big, Instant at, UUID uuid, Assets.Function fn, int[] ints, List<Point> points,
      Set<String> tags, Map<Integer, String> byNumber, Optional<String> maybe, Object free) {}

  @Test
  void everySupportedTypeRoundTrips() {
    Everything e = new Everything("s", 'c', true, (byte) -3, (short) 300, -7, Long.MIN_VALUE, 1.5f, 0.1 + 0.2,
        new BigDecimal("12345678901234567890.000001"), new BigInteger("123456789012345678901234567890"),
        Instant.parse("2025-01-02T03:04:05.123456789Z"), UUID.fromString("123e4567-e89b-12d3-a456-426614174000"),
        Assets.Function.TRANSLATION, new int[] {1, 2}, List.of(new Point(1, 2)), Set.of("t"),
        Map.of(1, "one"), Optional.of("x"), Map.of("k", List.of(1L, 2.5, "s", true)));
    Everything back = decode(Everything.class, encode(Everything.class, e));
    assertThat(back).usingRecursiveComparison().isEqualTo(e);
    assertThat(back.d()).isEqualTo(0.30000000000000004); // exact, unlike jsoniter's own double writer
  }

  @Test
  void freeFormValuesKeepPythonsIntAndFloatDistinction() {
    String json = "{\"a\":1,\"b\":2.5,\"c\":[1,\"x\",null,true],\"d\":{\"e\":9223372036854775807},"
        + "\"f\":123456789012345678901234567890,\"g\":1e3,\"h\":-0.0}";
    @SuppressWarnings("unchecked")
    Map<String, Object> map = decode(Map.class, json);
    assertThat(map.get("a")).isEqualTo(1L);
    assertThat(map.get("b")).isEqualTo(2.5);
    assertThat(map.get("c")).isEqualTo(Arrays.asList(1L, "x", null, true));
    assertThat(((Map<?, ?>) map.get("d")).get("e")).isEqualTo(Long.MAX_VALUE);
    assertThat(map.get("f")).isEqualTo(new BigInteger("123456789012345678901234567890"));
    assertThat(map.get("g")).isEqualTo(1000.0);
    assertThat(encode(Map.class, map)).isEqualTo("{\"a\":1,\"b\":2.5,\"c\":[1,\"x\",null,true],"
        + "\"d\":{\"e\":9223372036854775807},\"f\":123456789012345678901234567890,\"g\":1000.0,\"h\":-0.0}");
  }

  @Test
  void stringsAreEscapedAsPythonDoesAndNeverHoldALineBreak() {
    String s = "caf\u00e9 \uD83D\uDE00 \"q\" \\ / \n\r\t\u0001\u007f";
    String json = encode(String.class, s);
    assertThat(json).isEqualTo("\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ / \\n\\r\\t\\u0001\\u007f\"");
    assertThat(json.chars()).allMatch(c -> c >= 0x20 && c < 0x7f);
    assertThat(decode(String.class, json)).isEqualTo(s);
  }

  @Test
  void doublesAreWrittenAsPythonsReprWritesThem() {
    assertThat(encode(double[].class, new double[] {1e20, 1.5e-7, 0.1, 12345678.0, 1e16, 1e15, 0.0001, 0.00001,
        -2.5, -0.0, 1e-320, Double.MAX_VALUE}))
        .isEqualTo("[1e+20,1.5e-07,0.1,12345678.0,1e+16,1000000000000000.0,0.0001,1e-05,-2.5,-0.0,"
            + "1e-320,1.7976931348623157e+308]");
  }

  @Test
  void pythonsNonFiniteFloatsAreReadAndWritten() {
    double[] values = {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY};
    assertThat(encode(double[].class, values)).isEqualTo("[NaN,Infinity,-Infinity]");
    assertThat(decode(double[].class, "[NaN, Infinity, -Infinity]")).containsExactly(values);
    @SuppressWarnings("unchecked")
    List<Object> free = decode(List.class, "[NaN, \"NaN\", -Infinity]");
    assertThat((Double) free.get(0)).isNaN();
    assertThat(free.get(1)).isEqualTo("NaN"); // a string stays a string
    assertThat(free.get(2)).isEqualTo(Double.NEGATIVE_INFINITY);
  }

  /** Issue 12, item 6: the codec's stand-ins for NaN and the infinities leaked into user strings. */
  @Test
  @SuppressWarnings("unchecked")
  void noStringIsMistakenForANonFiniteNumber() {
    List<String> lookalikes = List.of("\u0000NaN", "\u0000Infinity", "\u0000-Infinity", "NaN", "Infinity",
        "-Infinity", "0NaN", "0Infinity", "\u0000\u0000NaN");
    for (boolean withRealNaN : new boolean[] {false, true}) { // a real NaN makes the decoder rewrite the value
      Map<String, Object> free = new LinkedHashMap<>();
      for (int i = 0; i < lookalikes.size(); i++) {
        free.put("s" + i, lookalikes.get(i));
        free.put(lookalikes.get(i), (long) i); // as names too
      }
      free.put("list", new ArrayList<>(lookalikes));
      if (withRealNaN) {
        free.put("nan", Double.NaN);
        free.put("inf", Double.POSITIVE_INFINITY);
        free.put("minusInf", Double.NEGATIVE_INFINITY);
      }
      assertThat(decode(Map.class, encode(Map.class, free))).isEqualTo(free);
    }
    // The overlong UTF-8 form of U+0000 (C0 80), which jsoniter decodes to a NUL, is a string too.
    byte[] overlong = {'[', '"', (byte) 0xC0, (byte) 0x80, 'N', 'a', 'N', '"', ',', 'N', 'a', 'N', ']'};
    List<?> read = Codec.json(List.class).decode(overlong, 0, overlong.length);
    assertThat(read.get(0)).isInstanceOf(String.class);
    assertThat((Double) read.get(1)).isNaN();
  }

  @Test
  void nonFiniteTokensFitOnlyDoubles() {
    assertThatThrownBy(() -> decode(Point.class, "{\"x\": NaN}")).isInstanceOf(CodecException.class)
        .hasMessageContaining(".x").hasMessageContaining("expected a finite number but found NaN");
    assertThatThrownBy(() -> decode(BigDecimal.class, "-Infinity")).isInstanceOf(CodecException.class)
        .hasMessageContaining("found -Infinity");
    assertThatThrownBy(() -> decode(String.class, "Infinity")).isInstanceOf(CodecException.class)
        .hasMessageContaining("expected a string but found a number");
    assertThatThrownBy(() -> decode(Double.class, "\"\\u0000NaN\"")).isInstanceOf(CodecException.class)
        .hasMessageContaining("expected a number but found a string");
    assertThat(decode(Float.class, "Infinity")).isEqualTo(Float.POSITIVE_INFINITY);
  }

  /** A plain class: private fields, a getter that wins over its field, a transient secret. */
  static class Bean {
    private String name;
    private int count = 5;
    private transient String secret = "kept-out";
    private final List<String> fixed = new ArrayList<>();

    public String getName() {
      return name == null ? null : name.toUpperCase(java.util.Locale.ROOT);
    }

    public void setName(String name) {
      this.name = name;
    }
  }

  @Test
  void plainClassesBindThroughFieldsAndAccessorsButNeverTransients() {
    Bean bean = new Bean();
    bean.setName("abc");
    bean.secret = "sk-123";
    String json = encode(Bean.class, bean);
    assertThat(json).isEqualTo("{\"name\":\"ABC\",\"count\":5,\"fixed\":[]}").doesNotContain("sk-123");
    Bean back = decode(Bean.class, "{\"name\":\"x\",\"secret\":\"injected\",\"unknown\":[1,{\"a\":2}]}");
    assertThat(back.name).isEqualTo("x");
    assertThat(back.count).isEqualTo(5); // missing: the constructor's default stays
    assertThat(back.secret).isEqualTo("kept-out");
  }

  @Test
  void missingAndNullMembersGetDefaults() {
    assertThat(decode(Point.class, "{}")).isEqualTo(new Point(0, 0));
    assertThat(decode(Point.class, "{\"x\": null, \"y\": 4}")).isEqualTo(new Point(0, 4));
  }

  @Test
  void enumsAcceptTheNamePythonsValueAndTheCase() {
    assertThat(decode(Assets.Function.class, "\"TRANSLATION\"")).isEqualTo(Assets.Function.TRANSLATION);
    assertThat(decode(Assets.Function.class, "\"translation\"")).isEqualTo(Assets.Function.TRANSLATION);
    assertThatThrownBy(() -> decode(Assets.Function.class, "\"speech\""))
        .isInstanceOf(CodecException.class).hasMessageContaining("\"speech\" is not a constant of");
  }

  @Test
  void wrongTypesNameTheMemberAndWhatWasFound() {
    assertThatThrownBy(() -> decode(Assets.Model.class, "{\"id\": \"m\", \"meta\": {}, \"tags\": \"one\"}"))
        .isInstanceOf(CodecException.class)
        .hasMessageContaining(Assets.Model.class.getName())
        .hasMessageContaining("at .tags: expected an array but found a string");
    assertThatThrownBy(() -> decode(Point.class, "{\"x\": 1.5}"))
        .isInstanceOf(CodecException.class).hasMessageContaining("at .x: expected an integer but found 1.5");
    assertThatThrownBy(() -> decode(Point.class, "{\"x\": 3000000000}"))
        .isInstanceOf(CodecException.class).hasMessageContaining("out of range");
    assertThatThrownBy(() -> decode(Point.class, "[1, 2]"))
        .isInstanceOf(CodecException.class).hasMessageContaining("expected an object");
  }

  @Test
  void malformedInputIsACodecExceptionNeverAnotherError() {
    for (String bad : List.of("", "{", "{\"x\": 1", "{\"x\": 1} trailing", "[1,]", "tru", "\"unterminated",
        "[" .repeat(100_000), "[".repeat(10_000) + "]".repeat(10_000))) {
      assertThatThrownBy(() -> decode(Object.class, bad)).as(bad.length() > 40 ? "deep" : bad)
          .isInstanceOf(CodecException.class);
    }
    Random random = new Random(7);
    byte[] valid = "{\"s\":\"x\",\"points\":[{\"x\":1,\"y\":2}],\"free\":{\"a\":[1,2.5]}}".getBytes(UTF_8);
    for (int i = 0; i < 3_000; i++) {
      byte[] b = valid.clone();
      b[random.nextInt(b.length)] = (byte) random.nextInt(128);
      try {
        Codec.json(Everything.class).decode(b, 0, random.nextInt(b.length + 1));
      } catch (CodecException expected) {
        // the only failure allowed
      }
    }
  }

  static final class Node {
    String name;
    List<Node> children = new ArrayList<>();
  }

  @Test
  void recursiveTypesBindAndCyclesFailCleanly() {
    Node root = new Node();
    root.name = "root";
    Node child = new Node();
    child.name = "child";
    root.children.add(child);
    Node back = decode(Node.class, encode(Node.class, root));
    assertThat(back.children.get(0).name).isEqualTo("child");
    child.children.add(root);
    assertThatThrownBy(() -> encode(Node.class, root))
        .isInstanceOf(CodecException.class).hasMessageContaining("cyclic");
  }

  interface Shape {}

  static final class NoDefaultConstructor {
    NoDefaultConstructor(int x) {}
  }

  @Test
  void unbindableTypesAreRefusedUpFrontWithTheReason() {
    assertThatThrownBy(() -> Codec.json(Shape.class))
        .isInstanceOf(CodecException.class).hasMessageContaining(Shape.class.getName());
    assertThatThrownBy(() -> Codec.json(NoDefaultConstructor.class))
        .isInstanceOf(CodecException.class).hasMessageContaining("no no-argument constructor");
  }

  @Test
  void isSafeToShareBetweenThreads() throws Exception {
    Codec<Assets.Model> codec = Codec.json(Assets.Model.class);
    CacheContractTest.runConcurrently(4, t -> {
      for (int i = 0; i < 2_000; i++) {
        Assets.Model m = Assets.Model.of("t" + t + "-" + i);
        byte[] b = codec.encode(m);
        assertThat(codec.decode(b, 0, b.length)).isEqualTo(m);
      }
    });
  }

  @Test
  void decodesFromTheMiddleOfABuffer() {
    byte[] buf = "xx{\"x\":1,\"y\":2}yy".getBytes(UTF_8);
    assertThat(Codec.json(Point.class).decode(buf, 2, buf.length - 4)).isEqualTo(new Point(1, 2));
    Map<String, Integer> ordered = new LinkedHashMap<>();
    ordered.put("z", 1);
    ordered.put("a", 2);
    assertThat(encode(Map.class, ordered)).isEqualTo("{\"z\":1,\"a\":2}");
  }
}
