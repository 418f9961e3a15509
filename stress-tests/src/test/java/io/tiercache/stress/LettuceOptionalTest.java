package io.tiercache.stress;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.CacheException;
import io.tiercache.StoreSpec;
import io.tiercache.TieredCache;
import java.io.File;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Lettuce is optional: without it the file store works, and selecting Redis says what is missing. */
class LettuceOptionalTest {
  @TempDir Path dir;

  @Test
  void withoutLettuceTheFileStoreWorksAndRedisNamesTheMissingDependency() throws Exception {
    String classPath = Arrays.stream(System.getProperty("java.class.path").split(File.pathSeparator))
        .filter(entry -> !entry.contains("lettuce")).collect(Collectors.joining(File.pathSeparator));
    String java = ProcessHandle.current().info().command().orElse("java");
    Process p = new ProcessBuilder(java, "-cp", classPath, LettuceOptionalTest.class.getName(), dir.toString())
        .redirectErrorStream(true).start();
    try {
      assertThat(p.waitFor(1, TimeUnit.MINUTES)).isTrue();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(out).contains("json=ok")
          .contains("redis=the Redis store needs io.lettuce:lettuce-core (6.x) on the class path")
          .contains("redis://127.0.0.1:6379").doesNotContain("secret");
      assertThat(p.exitValue()).as(out).isZero();
    } finally {
      p.destroyForcibly();
    }
  }

  /** The child: no Lettuce on its class path. */
  public static void main(String[] args) throws Exception {
    try {
      Class.forName("io.lettuce.core.RedisClient");
      throw new IllegalStateException("Lettuce is on the class path");
    } catch (ClassNotFoundException expected) {
      // the point of the test
    }
    try (TieredCache<String, String> json = TieredCache.builder(String.class, String.class)
        .directory(Files.createDirectories(Path.of(args[0]))).name("plain").build()) {
      json.put("k", "v");
      System.out.println("json=" + (json.getIfPresent("k").equals("v") ? "ok" : "broken"));
    }
    try {
      TieredCache.builder(String.class, String.class).store(StoreSpec.redis(URI.create("redis://:secret@127.0.0.1:6379")))
          .build();
      System.out.println("redis=accepted without Lettuce");
    } catch (CacheException e) {
      System.out.println("redis=" + e.getMessage());
    }
  }
}
