package io.tiercache.jcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tiercache.Codec;
import io.tiercache.CodecException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class StoredTest {
  private final Codec<Stored> codec = Stored.codec();

  private Stored decode(String json) {
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    return codec.decode(bytes, 0, bytes.length);
  }

  private String encode(Stored stored) {
    return new String(codec.encode(stored), StandardCharsets.UTF_8);
  }

  @Test
  void aJsonValueWithItsTypeAndDeadlineIsOneCompactObject() {
    Stored stored = new Stored("{\"id\":\"m1\",\"size\":3}".getBytes(StandardCharsets.UTF_8), "com.example.Model",
        null, 1_767_225_600_000L, null);
    String json = encode(stored);
    assertThat(json).isEqualTo("{\"v\":{\"id\":\"m1\",\"size\":3},\"t\":\"com.example.Model\",\"x\":1767225600000}");
    Stored back = decode(json);
    assertThat(new String(back.json, StandardCharsets.UTF_8)).isEqualTo("{\"id\":\"m1\",\"size\":3}");
    assertThat(back.type).isEqualTo("com.example.Model");
    assertThat(back.deadline).isEqualTo(1_767_225_600_000L);
    assertThat(back.serialized).isNull();
  }

  @Test
  void anEternalEntryOfTheDeclaredTypeCarriesNeitherXNorT() {
    String json = encode(new Stored("\"abc\"".getBytes(StandardCharsets.UTF_8), null, null, Stored.ETERNAL, null));
    assertThat(json).isEqualTo("{\"v\":\"abc\"}");
    assertThat(decode(json).deadline).isEqualTo(Stored.ETERNAL);
    assertThat(decode(json).type).isNull();
  }

  @Test
  void aSerializedValueIsBase64() {
    byte[] bytes = {(byte) 0xac, (byte) 0xed, 0, 5, 1, 2, 3};
    String json = encode(new Stored(null, null, bytes, 42L, null));
    assertThat(json).isEqualTo("{\"j\":\"rO0ABQECAw==\",\"x\":42}");
    assertThat(decode(json).serialized).containsExactly(bytes);
  }

  @Test
  void classNamesOutsideAsciiAreEscapedAndReadBack() {
    Stored stored = new Stored("1".getBytes(StandardCharsets.UTF_8), "p.Caf\u00e9\"", null, Stored.ETERNAL, null);
    String json = encode(stored);
    assertThat(json).isEqualTo("{\"v\":1,\"t\":\"p.Caf\\u00e9\\u0022\"}");
    assertThat(decode(json).type).isEqualTo("p.Caf\u00e9\"");
  }

  /** What the Python SDK writes back when it rewrites the file: json.dump(indent=4), its own order. */
  @Test
  void readsAnEnvelopeThePythonSdkRewrote() {
    Stored back = decode("{\n    \"x\": 1767225600000,\n    \"extra\": [1, {\"a\": \"}\"}],\n"
        + "    \"t\": \"java.lang.Integer\",\n    \"v\": {\n        \"name\": \"caf\\u00e9 \\\"q\\\"\",\n"
        + "        \"list\": [1, 2.5, null, true]\n    }\n}");
    assertThat(new String(back.json, StandardCharsets.UTF_8))
        .isEqualTo("{\n        \"name\": \"caf\\u00e9 \\\"q\\\"\",\n        \"list\": [1, 2.5, null, true]\n    }");
    assertThat(back.type).isEqualTo("java.lang.Integer");
    assertThat(back.deadline).isEqualTo(1_767_225_600_000L);
  }

  @Test
  void whatIsNotAnEnvelopeIsRejectedWithTheReason() {
    assertThatThrownBy(() -> decode("{\"id\": \"m1\", \"name\": \"an asset the Python SDK added\"}"))
        .isInstanceOf(CodecException.class).hasMessageContaining("exactly one of the members v");
    assertThatThrownBy(() -> decode("{\"v\": 1, \"j\": \"AAAA\"}")).isInstanceOf(CodecException.class)
        .hasMessageContaining("exactly one");
    assertThatThrownBy(() -> decode("{\"j\": \"not base64!\"}")).isInstanceOf(CodecException.class)
        .hasMessageContaining("not base64");
    assertThatThrownBy(() -> decode("{\"v\": 1, \"x\": 1.5e3}")).isInstanceOf(CodecException.class)
        .hasMessageContaining("member x");
    assertThatThrownBy(() -> decode("{\"v\": 1} trailing")).isInstanceOf(CodecException.class)
        .hasMessageContaining("bytes after the envelope");
    assertThatThrownBy(() -> decode("{\"v\": \"unterminated}")).isInstanceOf(CodecException.class)
        .hasMessageContaining("unterminated string");
    assertThatThrownBy(() -> decode("[1]")).isInstanceOf(CodecException.class).hasMessageContaining("expected '{'");
  }

  @Test
  void aNewDeadlineIsANewInstanceAndTheSameDeadlineIsNot() {
    Stored stored = new Stored("1".getBytes(StandardCharsets.UTF_8), null, null, 10L, 1);
    assertThat(stored.withDeadline(10L)).isSameAs(stored);
    Stored later = stored.withDeadline(20L);
    assertThat(later).isNotSameAs(stored);
    assertThat(later.deadline).isEqualTo(20L);
    assertThat(later.immutable).isEqualTo(1);
    assertThat(stored.expired(9L)).isFalse();
    assertThat(stored.expired(10L)).isTrue();
    assertThat(stored.withDeadline(Stored.ETERNAL).expired(Long.MAX_VALUE)).isFalse();
  }
}
