package io.tiercache.jcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class ValueCodecTest {
  private final Supplier<ClassLoader> loader = getClass()::getClassLoader;

  record Point(int x, int y) {}

  record Model(String id, List<String> tags, Map<String, Point> points, Optional<Instant> updated, TimeUnit unit) {}

  /** A plain class that is not Serializable: JSON through the codec's mapping, like tiercache's own caches. */
  static final class Plain {
    String name;
    List<Integer> sizes = new ArrayList<>();
    transient String secret;
  }

  private Object roundTrip(ValueCodec codec, Object value) {
    return codec.decode(Stored.codec().decode(Stored.codec().encode(codec.encode(value, 1L)), 0,
        Stored.codec().encode(codec.encode(value, 1L)).length));
  }

  @Test
  void typesJsonRepresentsExactlyRoundTripAsJsonWithTheirClassWhenNotTheDeclaredOne() {
    ValueCodec codec = new ValueCodec("models", Object.class, loader);
    List<Object> values = List.of("caf\u00e9", 42L, 42, (short) 3, (byte) 4, 2.5, Double.NaN, -0.0, 1.5f, 'c', true,
        new BigDecimal("1.50"), new BigInteger("123456789012345678901234567890"), Instant.parse("2026-01-01T00:00:00.123456789Z"),
        UUID.randomUUID(), TimeUnit.SECONDS, new Point(1, 2),
        new Model("m1", List.of("a", "b"), Map.of("p", new Point(3, 4)), Optional.of(Instant.EPOCH), TimeUnit.DAYS));
    for (Object value : values) {
      Stored stored = codec.encode(value, 1L);
      assertThat(stored.json).as("%s is JSON", value.getClass()).isNotNull();
      assertThat(stored.type).isEqualTo(value.getClass().getName());
      assertThat(roundTrip(codec, value)).as("%s", value.getClass()).isEqualTo(value);
    }
  }

  @Test
  void theDeclaredTypeNeedsNoTag() {
    ValueCodec codec = new ValueCodec("models", Point.class, loader);
    Stored stored = codec.encode(new Point(1, 2), Stored.ETERNAL);
    assertThat(stored.type).isNull();
    assertThat(new String(Stored.codec().encode(stored), StandardCharsets.UTF_8)).isEqualTo("{\"v\":{\"x\":1,\"y\":2}}");
  }

  @Test
  void otherSerializableValuesUseJavaSerializationAndReadsAreCopies() {
    ValueCodec codec = new ValueCodec("models", Object.class, loader);
    Date date = new Date(1_767_225_600_000L);
    Stored stored = codec.encode(date, 1L);
    assertThat(stored.serialized).isNotNull();
    assertThat(stored.json).isNull();
    Date first = (Date) codec.decode(stored);
    assertThat(first).isEqualTo(date).isNotSameAs(date);
    first.setTime(0);
    assertThat(codec.decode(stored)).as("a reader's change is its own").isEqualTo(date);
    date.setTime(1);
    assertThat(codec.decode(stored)).as("the writer's later change is its own").isEqualTo(new Date(1_767_225_600_000L));
  }

  @Test
  void immutableValuesAreDecodedOnceMutableOnesEveryTime() {
    ValueCodec codec = new ValueCodec("models", Object.class, loader);
    Stored point = Stored.codec().decode(Stored.codec().encode(codec.encode(new Point(1, 2), 1L)), 0,
        Stored.codec().encode(codec.encode(new Point(1, 2), 1L)).length);
    assertThat(codec.decode(point)).isSameAs(codec.decode(point));
    Stored list = codec.encode(new Model("m", new ArrayList<>(List.of("a")), Map.of(), Optional.empty(), TimeUnit.DAYS), 1L);
    Model first = (Model) codec.decode(list);
    first.tags().add("changed");
    assertThat(((Model) codec.decode(list)).tags()).containsExactly("a");
  }

  @Test
  void aPlainClassThatIsNotSerializableIsStoredAsTheCodecMapsIt() {
    ValueCodec codec = new ValueCodec("models", Plain.class, loader);
    Plain plain = new Plain();
    plain.name = "p";
    plain.sizes.add(3);
    plain.secret = "api key";
    Stored stored = codec.encode(plain, 1L);
    assertThat(new String(stored.json, StandardCharsets.UTF_8)).isEqualTo("{\"name\":\"p\",\"sizes\":[3]}");
    Plain back = (Plain) codec.decode(stored);
    assertThat(back.name).isEqualTo("p");
    assertThat(back.sizes).containsExactly(3);
    assertThat(back.secret).as("transient fields are not stored").isNull();
  }

  @Test
  void aStoredValueThatCannotBeReadNamesTheCacheAndTheClass() {
    ValueCodec codec = new ValueCodec("models", Object.class, loader);
    Stored unknownClass = new Stored("1".getBytes(StandardCharsets.UTF_8), "com.example.Gone", null, 1L, null);
    assertThatThrownBy(() -> codec.decode(unknownClass)).isInstanceOf(javax.cache.CacheException.class)
        .hasMessage("the class com.example.Gone of a value stored in the cache models is not found by the cache "
            + "manager's class loader");
    Stored notAPoint = new Stored("\"text\"".getBytes(StandardCharsets.UTF_8), Point.class.getName(), null, 1L, null);
    assertThatThrownBy(() -> codec.decode(notAPoint)).isInstanceOf(javax.cache.CacheException.class)
        .hasMessageStartingWith("cannot read a value stored in the cache models: cannot convert " + Point.class.getName());
  }

  @Test
  void aValueOfTheWrongTypeOrThatCannotBeStoredIsRefused() {
    assertThatThrownBy(() -> new ValueCodec("models", Point.class, loader).encode("text", 1L))
        .isInstanceOf(ClassCastException.class);
    class Node {
      Node next;
    }
    Node cycle = new Node();
    cycle.next = cycle;
    assertThatThrownBy(() -> new ValueCodec("models", Object.class, loader).encode(cycle, 1L))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(Node.class.getName())
        .hasMessageContaining("the cache models");
    assertThatThrownBy(() -> new ValueCodec("models", Object.class, loader).encode(Set.of(new Object()), 1L))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not Serializable");
  }
}
