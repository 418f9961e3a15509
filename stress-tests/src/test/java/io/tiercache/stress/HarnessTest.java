package io.tiercache.stress;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.Durability;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The multi-process and crash harnesses in quick mode ({@code -Dstress.long=true}: 16 processes,
 * 200 crash rounds), and each harness against a deliberately broken writer, which it must catch.
 */
class HarnessTest {
  static final boolean LONG = Boolean.getBoolean("stress.long");

  @TempDir Path dir;

  @Test
  void manyProcessesLoseNothingAndNeverSeeATornFile() throws Exception {
    MultiProcess.Result r = MultiProcess.run(dir, LONG ? 16 : 4, LONG ? 2_000 : 500, false, Duration.ofMinutes(10));
    System.out.println(r.line());
    assertThat(r.lost()).as(r.line()).isZero();
    assertThat(r.torn()).as(r.line()).isZero();
  }

  @Test
  void theMultiProcessHarnessCatchesTheSeedsLostUpdates() throws Exception {
    MultiProcess.Result r = MultiProcess.run(dir, 2, 150, true, Duration.ofMinutes(5));
    System.out.println("broken writers: " + r.line());
    assertThat(r.lost()).as(r.line()).isPositive();
  }

  @Test
  void killNineNeverCorruptsTheCacheNorLosesAnAcknowledgedAdd() throws Exception {
    Crash.Result r = Crash.run(dir, LONG ? 200 : 12, Durability.WRITE, 50, new Random(42));
    System.out.println("WRITE: " + r.line());
    assertThat(r.acked()).isPositive();
    assertThat(r.corrupt()).as(r.line()).isZero();
    assertThat(r.lostAcked()).as(r.line()).isZero();
  }

  @Test
  void killNineUnderFsyncLosesNothingEither() throws Exception {
    Crash.Result r = Crash.run(dir, LONG ? 50 : 4, Durability.FSYNC, 50, new Random(7));
    System.out.println("FSYNC: " + r.line());
    assertThat(r.corrupt()).as(r.line()).isZero();
    assertThat(r.lostAcked()).as(r.line()).isZero();
  }

  @Test
  void theCrashHarnessCatchesAWriterThatAcknowledgesTooEarly() throws Exception {
    // ASYNC with a 10 s flush delay acknowledges writes that exist only in memory.
    Crash.Result r = Crash.run(dir, 2, Durability.ASYNC, 10_000, new Random(3));
    System.out.println("ASYNC (acknowledges early): " + r.line());
    assertThat(r.lostAcked()).as(r.line()).isPositive();
  }
}
