package io.tiercache.stress;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cache many times the size of the heap that serves it: filled in one JVM, opened and read in one
 * with a small heap. Quick mode: 300,000 records (a ~130 MB snapshot) served with a 64 MB heap; long
 * mode: 10 million (several GB) with 256 MB.
 */
class LargeCacheTest {
  static final boolean LONG = Boolean.getBoolean("stress.long");

  @TempDir Path dir;

  @Test
  void aSnapshotLargerThanTheHeapOpensAtOnceAndServesEveryValue() throws Exception {
    long entries = LONG ? 10_000_000 : 300_000;
    String serveHeap = LONG ? "256m" : "64m";
    String report = LargeCache.run(dir, entries, 100_000, LONG ? "10g" : "1g", serveHeap, Duration.ofMinutes(LONG ? 90 : 10));
    System.out.println("large cache: " + report);
    assertThat(Cli.field(report, "wrong")).as(report).isZero();
    long snapshotMb = Cli.field(report, "snapshotBytes") >> 20;
    long heapMb = Cli.field(report, "heapUsedMb");
    assertThat(snapshotMb).as("larger than the serving JVM's whole heap: " + report).isGreaterThan(LONG ? 2_000 : 64);
    assertThat(heapMb).as("the heap used is a fraction of the snapshot: " + report).isLessThan(snapshotMb / 2);
  }
}
