package io.tiercache.jcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Date;
import java.util.List;
import java.util.UUID;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

class KeyCodecTest {
  private final Supplier<ClassLoader> loader = getClass()::getClassLoader;

  @Test
  void keysOfTheTypesTiercacheFilesUseAreTheirText() {
    assertThat(KeyCodec.of(String.class, loader).encode("~abc")).isEqualTo("~abc");
    assertThat(KeyCodec.of(Long.class, loader).encode(42L)).isEqualTo("42");
    assertThat(KeyCodec.of(Integer.class, loader).encode(-7)).isEqualTo("-7");
    UUID id = UUID.randomUUID();
    assertThat(KeyCodec.of(UUID.class, loader).encode(id)).isEqualTo(id.toString());
    assertThat(KeyCodec.of(Long.class, loader).decode("42")).isEqualTo(42L);
    assertThat(KeyCodec.of(Long.class, loader).decode("an id the Python SDK wrote")).isNull();
  }

  @Test
  void untypedCachesTagWhatIsNotAPlainString() {
    KeyCodec<Object> keys = KeyCodec.of(Object.class, loader);
    UUID id = UUID.randomUUID();
    Date date = new Date(1_767_225_600_000L);
    assertThat(keys.encode("model-1")).isEqualTo("model-1");
    assertThat(keys.encode("~model")).isEqualTo("~s:~model");
    assertThat(keys.encode(42L)).isEqualTo("~l:42");
    assertThat(keys.encode(42)).isEqualTo("~i:42");
    assertThat(keys.encode(id)).isEqualTo("~u:" + id);
    assertThat(keys.encode(date)).startsWith("~j:");
    for (Object key : List.of("model-1", "~model", "~", "", 42L, 42, id, date, List.of(1, "two"))) {
      assertThat(keys.decode(keys.encode(key))).isEqualTo(key);
    }
    assertThat(keys.encode(new Date(date.getTime()))).as("equal keys, equal names").isEqualTo(keys.encode(date));
    assertThat(keys.decode("~q:unknown tag")).isNull();
    assertThat(keys.decode("~j:not base64 at all")).isNull();
  }

  @Test
  void aSerializedKeyIsCopiedForListenersAndOthersAreShared() {
    KeyCodec<Object> keys = KeyCodec.of(Object.class, loader);
    Date date = new Date(5);
    Object copy = keys.copy(date, keys.encode(date));
    assertThat(copy).isEqualTo(date).isNotSameAs(date);
    String text = "k";
    assertThat(keys.copy(text, keys.encode(text))).isSameAs(text);
  }

  @Test
  void aKeyOfTheWrongTypeOrThatCannotBeStoredIsRefused() {
    KeyCodec<Long> longs = KeyCodec.of(Long.class, loader);
    assertThatThrownBy(() -> longs.encode("not a long")).isInstanceOf(ClassCastException.class);
    KeyCodec<Object> keys = KeyCodec.of(Object.class, loader);
    assertThatThrownBy(() -> keys.encode(new Object())).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("java.lang.Object is not Serializable");
  }
}
