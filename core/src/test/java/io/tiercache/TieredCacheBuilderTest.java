package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tiercache.Assets.Model;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.temporal.ChronoUnit;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code build()} makes an immutable configuration: the builder and the open caches never share state. */
class TieredCacheBuilderTest {
  @TempDir Path dir;
  final FakeClock clock = new FakeClock();

  TieredCacheBuilder<String, Model> builder() {
    return TieredCache.builder(String.class, Model.class).directory(dir).name("model")
        .expireAfter(Duration.ofHours(1)).clock(clock);
  }

  @Test
  void aSetterCalledAfterBuildChangesNothingInTheOpenCache() throws Exception {
    TieredCacheBuilder<String, Model> builder = builder().durability(Durability.WRITE);
    try (TieredCache<String, Model> cache = builder.build()) {
      // Were the settings shared, this put would wait in memory for 10 minutes instead of being written.
      builder.durability(Durability.ASYNC).asyncFlushDelay(Duration.ofMinutes(10)).expireAfter(Duration.ofMillis(1));
      cache.put("m1", Model.of("m1"));
      assertThat(Files.readString(dir.resolve("model.journal"), UTF_8)).as("written on put, as WRITE says")
          .contains("\"m1\"");
      clock.advance(Duration.ofMinutes(1));
      assertThat(cache.getIfPresent("m1")).as("still the 1 h expiry it was built with").isEqualTo(Model.of("m1"));
    }
  }

  @Test
  void buildLeavesTheBuilderAsItWasAndTheBuilderCanBeReused() {
    TieredCacheBuilder<String, Model> builder = builder();
    CacheConfig<String, Model> before = builder.config();
    try (TieredCache<String, Model> first = builder.build();
        TieredCache<String, Model> second = builder.name("other").build()) {
      assertThat(builder.name("model").config()).isEqualTo(before);
      first.put("a", Model.of("a"));
      assertThat(second.getIfPresent("a")).as("another name is another cache").isNull();
    }
  }

  @Test
  void staleIfErrorReachesTheStoreAndTheSdkSettingsAreCopiedAtBuild() {
    TieredCacheBuilder<String, Model> builder = builder();
    assertThat(builder.config().store().staleGrace()).as("default: keep nothing").isZero();
    builder.staleIfError(Duration.ofMinutes(5)).refreshAfterWrite(Duration.ofMinutes(1));
    CacheConfig<String, Model> config = builder.config();
    assertThat(config.store().staleGrace()).isEqualTo(Duration.ofMinutes(5));
    assertThat(config.refreshAfterWrite()).isEqualTo(Duration.ofMinutes(1));
    builder.staleIfError(Duration.ofHours(1)).refreshAfterWrite(Duration.ofHours(1)).maximumWeight(10);
    assertThat(config.store().staleGrace()).as("a built configuration never changes").isEqualTo(Duration.ofMinutes(5));
    assertThat(config.maximumWeight()).isEqualTo(-1);
    assertThatThrownBy(() -> builder.staleIfError(Duration.ofSeconds(-1))).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> builder.refreshAfterWrite(Duration.ZERO)).isInstanceOf(IllegalArgumentException.class);
  }

  /**
   * "Forever" in its usual spellings (and in {@code CACHE_EXPIRY_TIME}) means what it does in Caffeine:
   * its longest period, {@code Long.MAX_VALUE} nanoseconds. It overflowed the deadline (every entry
   * expired at once) or failed the build with a bare ArithmeticException.
   */
  @Test
  void periodsLongerThanCaffeinesLongestAreTakenAsIt() {
    Duration longest = Duration.ofNanos(Long.MAX_VALUE);
    for (Duration forever : List.of(Duration.ofMillis(Long.MAX_VALUE), ChronoUnit.FOREVER.getDuration(),
        ExpiryTime.fromValue(String.valueOf(Long.MAX_VALUE)), longest.plusNanos(1))) {
      CacheConfig<String, Model> config = builder().expireAfter(forever).staleIfError(forever)
          .refreshAfterWrite(forever).config();
      assertThat(config.store().expireAfter()).as("%s", forever).isEqualTo(longest);
      assertThat(config.store().staleGrace()).isEqualTo(longest);
      assertThat(config.refreshAfterWrite()).isEqualTo(longest);
    }
    assertThat(builder().expireAfter(ChronoUnit.FOREVER.getDuration().negated()).config().store().expireAfter())
        .isEqualTo(longest.negated());
    assertThat(builder().expireAfter(longest).config().store().expireAfter()).isEqualTo(longest);
    assertThat(builder().expireAfter(Duration.ofDays(1000)).config().store().expireAfter())
        .isEqualTo(Duration.ofDays(1000));
  }

  @Test
  void aSecondOpenOfTheSameFilesMustAgreeOnEverySetting() {
    try (TieredCache<String, Model> cache = builder().build()) {
      assertThatThrownBy(() -> builder().clock(new FakeClock()).build()).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("already open in this JVM");
      assertThatThrownBy(() -> builder().filePermissions(PosixFilePermissions.fromString("rw-r-----")).build())
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("GROUP_READ");
      try (TieredCache<String, Model> same = builder().build()) {
        same.put("k", Model.of("k"));
        assertThat(cache.getIfPresent("k")).as("the same settings share the open cache").isEqualTo(Model.of("k"));
      }
    }
  }

  @Test
  void permissionsThatWouldLockTheCacheOutOfItsOwnFilesAreRejectedAtOnce() {
    assertThatThrownBy(() -> builder().filePermissions(PosixFilePermissions.fromString("r--------")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("r--------");
    assertThatThrownBy(() -> builder().directoryPermissions(PosixFilePermissions.fromString("rw-------")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rw-------");
  }

  @Test
  void aNameWhoseFilesCannotBeNamedIsRejectedAtOnce() {
    String longest = "n".repeat(FileNames.MAX_NAME_BYTES);
    assertThat(builder().name(longest).config().store().files().name()).isEqualTo(longest);
    assertThatThrownBy(() -> builder().name(longest + "n")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("too long").hasMessageContaining("192 bytes");
    assertThatThrownBy(() -> builder().name("\u00e9".repeat(96))).as("counted in UTF-8 bytes")
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("192 bytes");
    assertThatThrownBy(() -> builder().name("../up")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("'../up'");
  }

  @Test
  void theLongestNameWorksWithEveryFileItDerives() throws Exception {
    String longest = "n".repeat(FileNames.MAX_NAME_BYTES);
    try (TieredCache<String, Model> cache = builder().name(longest).compactionMinBytes(0).build()) {
      for (int i = 0; i < 50; i++) {
        cache.put("m" + i, Model.of("m" + i));
      }
      cache.flush();
    }
    assertThat(Files.exists(dir.resolve(longest + ".json"))).isTrue();
  }

  @Test
  void redisLocationsWithOtherCredentialsAreOtherStores() {
    StoreConfig right = builder().store(StoreSpec.redis(URI.create("redis://:right@127.0.0.1:6379"))).config().store();
    StoreConfig wrong = builder().store(StoreSpec.redis(URI.create("redis://:wrong@127.0.0.1:6379"))).config().store();
    Object a = RedisSupport.PROVIDER.location(right);
    Object b = RedisSupport.PROVIDER.location(wrong);
    assertThat(a).isNotEqualTo(b);
    assertThat(a.toString()).isEqualTo(b.toString()).isEqualTo("redis://127.0.0.1:6379#model");
    assertThat(right.toString()).doesNotContain("right");
  }
}
