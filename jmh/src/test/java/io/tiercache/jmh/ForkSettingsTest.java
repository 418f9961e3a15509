package io.tiercache.jmh;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Fork;

class ForkSettingsTest {
  /**
   * Every benchmark's forks touch their heap before measuring. WriteBenchmark's did not, and its means
   * were mostly the kernel's first touch of pages G1 grew into, in proportion to what each target
   * allocates (an ASYNC put: 5.0-8.4 us on average; touched first, 1.1-2.2).
   */
  @Test
  void everyForkedBenchmarkTouchesItsHeapFirst() throws Exception {
    Path classes = Path.of(WriteBenchmark.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    List<String> forked = new ArrayList<>();
    List<String> untouched = new ArrayList<>();
    try (Stream<Path> files = Files.list(classes.resolve("io/tiercache/jmh"))) {
      for (Path file : (Iterable<Path>) files::iterator) {
        String name = file.getFileName().toString();
        if (!name.endsWith(".class") || name.contains("$")) {
          continue;
        }
        Class<?> type = Class.forName("io.tiercache.jmh." + name.substring(0, name.length() - 6), false,
            ForkSettingsTest.class.getClassLoader());
        Fork fork = type.getAnnotation(Fork.class);
        if (fork == null) {
          continue;
        }
        forked.add(type.getSimpleName());
        if (!List.of(fork.jvmArgsAppend()).contains("-XX:+AlwaysPreTouch")) {
          untouched.add(type.getSimpleName());
        }
      }
    }
    assertThat(forked).contains("WriteBenchmark", "StoreBenchmark", "FrontTierBenchmark");
    assertThat(untouched).as("benchmarks whose forks measure the kernel's first touch of their heap").isEmpty();
  }
}
