package io.tiercache.stress;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cache many times the size of the heap that serves it: filled in one JVM, opened and read in one
 * with a small heap. Quick mode: 300,000 records (a 100 MB snapshot) served with a 64 MB heap; long
 * mode: 10 million (several GB) with 256 MB. The broken variant serves the same files while holding
 * the JSON file in its heap, as the Python SDK does, and the same check must catch it.
 */
class LargeCacheTest {
  static final boolean LONG = Boolean.getBoolean("stress.long");

  @TempDir Path dir;

  @Test
  void aSnapshotLargerThanTheHeapOpensAtOnceAndServesEveryValue() throws Exception {
    long entries = LONG ? 10_000_000 : 300_000;
    String fillHeap = LONG ? "10g" : "1g";
    Duration timeout = Duration.ofMinutes(LONG ? 90 : 10);
    String report = LargeCache.run(dir, entries, 100_000, fillHeap, LONG ? "256m" : "64m", timeout);
    System.out.println("large cache: " + report);
    assertThat(Cli.field(report, "wrong")).as(report).isZero();
    assertThat(Cli.field(report, "snapshotBytes") >> 20).as("larger than the serving JVM's whole heap: " + report)
        .isGreaterThan(LONG ? 2_000 : 64);
    assertThat(heapIsAFractionOfTheSnapshot(report)).as("the heap used is a fraction of the snapshot: " + report)
        .isTrue();

    String holding = LargeCache.serveIn(dir, entries, 10_000, fillHeap, true, timeout);
    System.out.println("large cache, the JSON file held in the heap (broken variant): " + holding);
    assertThat(Cli.field(holding, "wrong")).as(holding).isZero();
    assertThat(heapIsAFractionOfTheSnapshot(holding)).as("the check catches a heap that holds the file: " + holding)
        .isFalse();
  }

  private static boolean heapIsAFractionOfTheSnapshot(String report) {
    return Cli.field(report, "heapUsedMb") < (Cli.field(report, "snapshotBytes") >> 20) / 2;
  }
}
