package io.tiercache.stress;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Runs every jcstress test in a time-bounded quick mode, in a child JVM (jcstress forks its own
 * JVMs and calls System.exit): one JVM configuration ({@code -jvmArgs}), no split compilation,
 * {@code -time} from the {@code jcstress.time} property (default 40 ms per configuration). About
 * a minute and a half on 2 cores. The full run is
 * {@code java -jar stress-tests/target/jcstress.jar -m quick} (or {@code -m default}).
 */
class JcstressTest {
  @Test
  void everyJcstressTestPassesInQuickMode() throws Exception {
    // A directory of its own per run: another build of the same tree must not mix its report into ours.
    Path results = Files.createTempDirectory(Files.createDirectories(Path.of("target").toAbsolutePath()), "jcstress-");
    Path merged = results.resolve("test-list");
    List<String> tests = mergeTestLists(merged);
    assertThat(tests).as("jcstress tests on the class path").hasSizeGreaterThanOrEqualTo(6);
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command = new ArrayList<>(List.of(java, "-Xmx256m", "-cp", merged + File.pathSeparator + classPath(),
        "org.openjdk.jcstress.Main", "-m", "quick", "-time", System.getProperty("jcstress.time", "40"),
        "-jvmArgs", "-Xmx256m", "-sc", "false", "-v", "-r", results.toString()));
    if (Boolean.getBoolean("stress.long")) {
      command.subList(command.indexOf("-jvmArgs"), command.indexOf("-jvmArgs") + 4).clear(); // every JVM mode
    }
    Path log = results.resolve("output.txt");
    Process p = new ProcessBuilder(command).directory(Path.of("target").toFile()).redirectErrorStream(true)
        .redirectOutput(log.toFile()).start();
    long start = System.nanoTime();
    try {
      boolean finished = p.waitFor(Boolean.getBoolean("stress.long") ? 60 : 8, TimeUnit.MINUTES);
      assertThat(finished).as("jcstress finished in time; see " + log).isTrue();
    } finally {
      p.descendants().forEach(ProcessHandle::destroyForcibly); // jcstress's forked test JVMs
      p.destroyForcibly();
    }
    String output = Files.readString(log, StandardCharsets.UTF_8);
    String summary = summary(output);
    System.out.printf("jcstress quick: exit %d in %.0f s%n%s%n", p.exitValue(), (System.nanoTime() - start) / 1e9, summary);
    assertThat(output).as(summary).contains("Failed tests: No matches.").contains("Error tests: No matches.");
    assertThat(p.exitValue()).as(summary).isZero();
    for (String test : tests) {
      assertThat(output).as("%s ran and passed; %s", test, summary).contains("[OK] " + test);
    }
  }

  /**
   * Every {@code META-INF/TestList} on the class path (this module's and core's test jar's), merged
   * into one under {@code dir}, which goes first on jcstress's class path: jcstress reads only the
   * first it finds, and would silently skip the other jar's tests. Returns the tests' class names.
   */
  static List<String> mergeTestLists(Path dir) throws IOException {
    StringBuilder merged = new StringBuilder();
    List<String> names = new ArrayList<>();
    Enumeration<URL> lists = JcstressTest.class.getClassLoader().getResources("META-INF/TestList");
    while (lists.hasMoreElements()) {
      try (InputStream in = lists.nextElement().openStream()) {
        for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
          if (line.startsWith("JCTEST")) {
            merged.append(line).append('\n');
            int s = line.indexOf('S', 6); // JCTEST<length>S<class name>...
            names.add(line.substring(s + 1, s + 1 + Integer.parseInt(line.substring(6, s))));
          }
        }
      }
    }
    Path file = Files.createDirectories(dir.resolve("META-INF")).resolve("TestList");
    Files.writeString(file, merged, StandardCharsets.UTF_8);
    return names;
  }

  /** The real test class path (surefire may run us from a manifest-only jar). */
  static String classPath() {
    String cp = System.getProperty("surefire.test.class.path");
    return cp == null || cp.isBlank() ? System.getProperty("java.class.path") : cp;
  }

  static String summary(String output) {
    int at = output.indexOf("RUN RESULTS:");
    return at < 0 ? output.substring(Math.max(0, output.length() - 4000)) : output.substring(at);
  }

}
