package io.tiercache.jmh;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class WriteBenchmarkTest {
  /**
   * Every put replaces its key's row with other bytes, on a real SQLite database: the peer that
   * skips an upsert of the bytes a row already holds (the benchmark once rewrote each key's own
   * value, and SQLite under {@code synchronous=FULL} then measured 5.9 us a put, no fsync in it).
   */
  @Test
  void everyPutOfTheBenchmarkChangesTheRowItWrites() throws Exception {
    WriteBenchmark b = new WriteBenchmark();
    b.target = "sqlite-FULL";
    b.entries = 100;
    b.shape = "small";
    b.setUp();
    try {
      for (int n = 0; n < 350; n++) { // three and a half rounds over the keys
        String key = b.keys[n % b.entries];
        byte[] before = b.sqlite.get(key);
        b.put();
        assertThat(b.sqlite.get(key)).as("put %d of %s", n, key).isNotNull().isNotEqualTo(before);
      }
    } finally {
      b.tearDown();
    }
  }

  /** The value each put picks differs from its key's, at the benchmark's sizes; the old choice is caught. */
  @Test
  void theValueAPutPicksIsNeverTheOneItsKeyHolds() {
    for (int entries : new int[] {1_000, 100_000}) {
      int values = Math.min(entries, 10_000); // as Fixtures.assets
      assertThat(firstUnchangedPut(entries, values, WriteBenchmark::valueIndex)).as("N=%d", entries).isEqualTo(-1);
      assertThat(firstUnchangedPut(entries, values, (n, e, v) -> (int) (n % e % v))).isEqualTo(0); // key i, value i
    }
  }

  private interface Choice {
    int valueIndex(long n, int entries, int values);
  }

  /** Over three rounds after the fill, the first put that writes the value its key holds, or -1. */
  private static long firstUnchangedPut(int entries, int values, Choice choice) {
    int[] held = new int[entries];
    Arrays.setAll(held, i -> i % values);
    for (long n = 0; n < 3L * entries; n++) {
      int i = (int) (n % entries);
      int v = choice.valueIndex(n, entries, values);
      if (v == held[i]) {
        return n;
      }
      held[i] = v;
    }
    return -1;
  }
}
