package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class DoorkeeperTest {
  /** A front tier's use of its bound past half: the doorkeeper decides. */
  static final long FULL = Long.MAX_VALUE;

  @Test
  void everyKeyIsAdmittedWhileTheFrontTierUsesLessThanHalfItsBoundAndNoBitIsAllocated() {
    Doorkeeper doorkeeper = new Doorkeeper(1_000);
    assertThat(doorkeeper.admit("model-1", 0, 0)).isTrue();
    assertThat(doorkeeper.admit("model-1", 499, 499)).isTrue();
    assertThat(doorkeeper.bits()).isZero();
    assertThat(doorkeeper.admit("model-1", 500, 500)).as("half full: a first read").isFalse();
    assertThat(doorkeeper.bits()).as("8 bits per key of a 1,000-key window").isEqualTo(8_192);
    assertThat(doorkeeper.admit("model-1", 1_000, 1_000)).isTrue();
  }

  /** Bounded by weight: half full by weight, the window twice the entries held then, whatever the bound. */
  @Test
  void underAWeightBoundTheWindowIsTwiceTheEntriesHeldAtHalfTheWeight() {
    Doorkeeper doorkeeper = new Doorkeeper(64L << 20);
    assertThat(doorkeeper.admit("model-1", (32L << 20) - 1, 100_000)).isTrue();
    assertThat(doorkeeper.admit("model-1", 32L << 20, 4_000)).isFalse();
    assertThat(doorkeeper.bits()).as("8 bits per key of an 8,000-key window").isEqualTo(65_536);
    assertThat(doorkeeper.admit("model-1", 32L << 20, 100_000)).as("sized once").isTrue();
    assertThat(doorkeeper.bits()).isEqualTo(65_536);
  }

  @Test
  void aKeyIsAdmittedOnItsSecondReadNotItsFirst() {
    Doorkeeper doorkeeper = new Doorkeeper(1_000);
    assertThat(doorkeeper.admit("model-1", FULL, 500)).isFalse();
    assertThat(doorkeeper.admit("model-1", FULL, 500)).isTrue();
    assertThat(doorkeeper.admit("model-1", FULL, 500)).isTrue();
    assertThat(doorkeeper.admit("model-2", FULL, 500)).isFalse();
  }

  @Test
  void eightBitsPerKeyOfTheWindowRoundedUpToAPowerOfTwoWithinBounds() {
    assertThat(Doorkeeper.bitsLog2(1_000)).isEqualTo(13);
    assertThat(Doorkeeper.bitsLog2(1_024)).isEqualTo(13);
    assertThat(Doorkeeper.bitsLog2(1_025)).isEqualTo(14);
    assertThat(Doorkeeper.bitsLog2(0)).isEqualTo(6);
    assertThat(Doorkeeper.bitsLog2(Long.MAX_VALUE)).isEqualTo(26);
  }

  /**
   * A window of about the front tier's size: a key read again after that many other keys were read
   * is a first read again, as an LRU of that size would have evicted it.
   */
  @Test
  void theBitsAreClearedWhenAKeyWouldSetMoreThanAnEighthOfThemAndItKeepsItsOwn() {
    Doorkeeper doorkeeper = new Doorkeeper(1_024); // half full at 512: 1,024 keys, 8,192 bits, 1,024 set
    assertThat(doorkeeper.admit(-1, FULL, 512)).isFalse();
    int firstReads = 1;
    int i = 0;
    for (; firstReads < 1_024; i++) {
      if (!doorkeeper.admit(i, FULL, 512)) {
        firstReads++;
      }
    }
    assertThat(doorkeeper.admit(-1, FULL, 512)).as("1,024 bits set, not cleared yet").isTrue();
    while (doorkeeper.admit(i, FULL, 512)) { // the key that would set the 1,025th bit clears them
      i++;
    }
    assertThat(doorkeeper.admit(i, FULL, 512)).as("the key that cleared them keeps its bit").isTrue();
    assertThat(doorkeeper.admit(-1, FULL, 512)).as("an older key's bit is cleared").isFalse();
  }

  /** Keys that collide with one seen before are admitted on their first read: at most one in eight. */
  @Test
  void fewerThanOneFirstReadInEightIsAdmittedByACollision() {
    int maximumSize = 10_000;
    Doorkeeper doorkeeper = new Doorkeeper(maximumSize);
    int admitted = 0;
    int reads = 200_000;
    for (int i = 0; i < reads; i++) {
      if (doorkeeper.admit("asset-" + i, FULL, maximumSize / 2)) {
        admitted++;
      }
    }
    // Fill ratio rises from 0 to 1/8 over each window: collisions average about 1/16 of first reads.
    assertThat((double) admitted / reads).isBetween(0.02, 0.10);
  }
}
