package io.tiercache.stress.faults;

import static io.tiercache.stress.faults.Scenarios.pick;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link PythonRace}: the real run counts no violation, the broken variant is caught. */
class PythonRaceTest {
  @TempDir Path base;

  @Test
  void thePythonSdkRacingJavaTakesNoAcknowledgedWriteOfEitherSide() throws Exception {
    Tally t = Scenarios.run(new PythonRace(), base, "--rounds", pick(1, 3));
    assertThat(t.get("javaAcked")).isPositive();
    assertThat(t.get("pythonAcked")).isPositive();
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void twoPythonSdkWritersAreCaughtLosingWrites() throws Exception {
    Tally t = Scenarios.run(new PythonRace(), base, "--broken");
    // Whichever of the two writes last wipes the other's adds: the "Java" side's or Python's.
    assertThat(t.get(Tally.LOST_ACKED) + t.get(PythonRace.PYTHON_LOST)).as(t.line()).isPositive();
  }
}
