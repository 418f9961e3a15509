package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DoorkeeperTest {
  /** A front tier's size past half its bound: the doorkeeper decides. */
  static final long FULL = Long.MAX_VALUE;

  @Test
  void everyKeyIsAdmittedWhileTheFrontTierIsLessThanHalfFullAndNoBitIsAllocated() {
    Doorkeeper doorkeeper = new Doorkeeper(1_000);
    assertThat(doorkeeper.admit("model-1", 0)).isTrue();
    assertThat(doorkeeper.admit("model-1", 499)).isTrue();
    assertThat(doorkeeper.allocated()).isFalse();
    assertThat(doorkeeper.admit("model-1", 500)).as("half full: a first read").isFalse();
    assertThat(doorkeeper.allocated()).isTrue();
    assertThat(doorkeeper.admit("model-1", 1_000)).isTrue();
  }

  @Test
  void aKeyIsAdmittedOnItsSecondReadNotItsFirst() {
    Doorkeeper doorkeeper = new Doorkeeper(1_000);
    assertThat(doorkeeper.admit("model-1", FULL)).isFalse();
    assertThat(doorkeeper.admit("model-1", FULL)).isTrue();
    assertThat(doorkeeper.admit("model-1", FULL)).isTrue();
    assertThat(doorkeeper.admit("model-2", FULL)).isFalse();
  }

  @Test
  void eightBitsPerFrontTierEntryRoundedUpToAPowerOfTwoWithinBounds() {
    assertThat(new Doorkeeper(1_000).bits()).isEqualTo(8_192);
    assertThat(new Doorkeeper(1_024).bits()).isEqualTo(8_192);
    assertThat(new Doorkeeper(1_025).bits()).isEqualTo(16_384);
    assertThat(new Doorkeeper(0).bits()).isEqualTo(64);
    assertThat(new Doorkeeper(Long.MAX_VALUE).bits()).isEqualTo(1 << 26);
  }

  /**
   * A window of about the front tier's size: a key read again after that many other keys were read
   * is a first read again, as an LRU of that size would have evicted it.
   */
  @Test
  void theBitsAreClearedWhenAKeyWouldSetMoreThanAnEighthOfThemAndItKeepsItsOwn() {
    Doorkeeper doorkeeper = new Doorkeeper(1_024); // 8,192 bits, 1,024 set at most
    assertThat(doorkeeper.admit(-1, FULL)).isFalse();
    int firstReads = 1;
    int i = 0;
    for (; firstReads < 1_024; i++) {
      if (!doorkeeper.admit(i, FULL)) {
        firstReads++;
      }
    }
    assertThat(doorkeeper.admit(-1, FULL)).as("1,024 bits set, not cleared yet").isTrue();
    while (doorkeeper.admit(i, FULL)) { // the key that would set the 1,025th bit clears them
      i++;
    }
    assertThat(doorkeeper.admit(i, FULL)).as("the key that cleared them keeps its bit").isTrue();
    assertThat(doorkeeper.admit(-1, FULL)).as("an older key's bit is cleared").isFalse();
  }

  /** Keys that collide with one seen before are admitted on their first read: at most one in eight. */
  @Test
  void fewerThanOneFirstReadInEightIsAdmittedByACollision() {
    int maximumSize = 10_000;
    Doorkeeper doorkeeper = new Doorkeeper(maximumSize);
    int admitted = 0;
    int reads = 200_000;
    for (int i = 0; i < reads; i++) {
      if (doorkeeper.admit("asset-" + i, FULL)) {
        admitted++;
      }
    }
    // Fill ratio rises from 0 to 1/8 over each window: collisions average about 1/16 of first reads.
    assertThat((double) admitted / reads).isBetween(0.02, 0.10);
  }
}
