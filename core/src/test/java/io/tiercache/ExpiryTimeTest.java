package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** CACHE_EXPIRY_TIME is read exactly as Python's int() reads it (see BEHAVIOUR.md). */
class ExpiryTimeTest {

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "' 42 '|42", "+7|7", "1_000|1000", "0|0", "-5|-5", "'\t3600\n'|3600", "0042|42", "'٣'|3"})
  void acceptsWhatPythonIntAccepts(String text, long seconds) {
    assertThat(ExpiryTime.fromValue(text)).isEqualTo(Duration.ofSeconds(seconds));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "3600.5", "1e3", "abc", "_1", "1_", "1__0", "+", "--1", "0x10",
      "99999999999999999999999x", "-99999999999999999999999_"})
  void fallsBackToADayOnAnythingElse(String text) {
    assertThat(ExpiryTime.fromValue(text)).isEqualTo(Duration.ofHours(24));
  }

  /** Python's int has no range: a number past a long is a valid, very long TTL, not a typo. */
  @ParameterizedTest
  @ValueSource(strings = {"99999999999999999999", "9223372036854775808", " +1_000000000000000000000 "})
  void beyondALongIsTheLongestTtl(String text) {
    assertThat(StoreConfig.saturated(ExpiryTime.fromValue(text))).isEqualTo(StoreConfig.LONGEST);
  }

  @org.junit.jupiter.api.Test
  void belowALongIsBornExpired() {
    assertThat(ExpiryTime.fromValue("-99999999999999999999")).isNegative();
  }

  @org.junit.jupiter.api.Test
  void unsetMeansADay() {
    assertThat(ExpiryTime.fromValue(null)).isEqualTo(Duration.ofHours(24));
  }
}
