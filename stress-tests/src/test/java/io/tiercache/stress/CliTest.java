package io.tiercache.stress;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.stress.faults.Faults;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The harnesses' command lines as a user meets them, each in its own JVM: typos and bad numbers are clear errors. */
class CliTest {
  record Run(int exit, String out, String err) {}

  static Run run(Class<?> main, String... args) throws Exception {
    Process p = new ProcessBuilder(Children.javaCommand(main, List.of(args), "128m")).start();
    try {
      assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
      return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
          new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    } finally {
      p.destroyForcibly();
    }
  }

  @Test
  void aMistypedOptionIsAUsageErrorThatSuggestsTheRightOne() throws Exception {
    Run r = run(MultiProcess.class, "--proceses", "16");
    assertThat(r.exit()).isEqualTo(Cli.USAGE);
    assertThat(r.err()).contains("Unknown option").contains("--proceses").contains("--processes");
    assertThat(r.out()).isEmpty(); // nothing ran
  }

  @Test
  void aBadNumberIsOneClearLineNotAStackTrace() throws Exception {
    Run r = run(Crash.class, "--rounds", "ten");
    assertThat(r.exit()).isEqualTo(Cli.USAGE);
    assertThat(r.err()).contains("Invalid value for option '--rounds': 'ten' is not an int")
        .doesNotContain("Exception").doesNotContain("\tat ");
  }

  @Test
  void helpListsTheOptionsAndTheScenarios() throws Exception {
    Run crash = run(Crash.class, "--help");
    assertThat(crash.exit()).isZero();
    assertThat(crash.out()).contains("Usage: Crash").contains("--rounds").contains("--durability");
    Run faults = run(Faults.class, "--help");
    assertThat(faults.exit()).isZero();
    assertThat(faults.out()).contains("disk-full").contains("python-race").contains("planted-files");
    Run scenario = run(Faults.class, "lock-unlink", "--help");
    assertThat(scenario.exit()).isZero();
    assertThat(scenario.out()).contains("--intervals-ms").contains("--broken");
  }

  @Test
  void aScenarioMainExitsOneWhenItsInvariantBreaks() throws Exception {
    Run r = run(Faults.class, "codec-placeholders", "--broken");
    assertThat(r.out()).startsWith("codec-placeholders (broken").contains("valuesChanged=");
    assertThat(r.exit()).as(r.err()).isEqualTo(Cli.BROKEN);
  }
}
