package io.tiercache.stress.faults;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link PlantedFiles}: the real run counts no violation, the broken variant is caught. */
class PlantedFilesTest {
  @TempDir Path base;

  @Test
  void plantedFilesAreRefusedAndNothingOutsideIsTouched() throws Exception {
    Tally t = Scenarios.run(new PlantedFiles(), base);
    assertThat(t.get("cases")).as("every case planted (the foreign-owned one needs root)")
        .isGreaterThanOrEqualTo(PlantedFiles.PLANTS.size() - 1);
    assertThat(t.violations()).as(t.line()).isZero();
  }

  @Test
  void aNaiveOpenerFollowingLinksIsCaught() throws Exception {
    Tally t = Scenarios.run(new PlantedFiles(), base, "--broken");
    assertThat(t.get(Tally.OUTSIDE_TOUCHED)).as(t.line()).isPositive();
    assertThat(t.get(PlantedFiles.PLANTED_READ)).as(t.line()).isPositive();
  }
}
