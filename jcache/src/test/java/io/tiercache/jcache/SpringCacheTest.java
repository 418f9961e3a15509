package io.tiercache.jcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import javax.cache.Cache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;

/** Spring's @Cacheable on tiercache through JCacheCacheManager: once per key, across restarts and JVMs. */
class SpringCacheTest {
  @TempDir
  Path dir;

  @ParameterizedTest
  @ValueSource(strings = {"json-files", "chronicle-map"})
  void aCachedMethodRunsOncePerKeyAcrossRestartsAndJvms(String store) throws Exception {
    try (AnnotationConfigApplicationContext first = SpringApp.start(dir, store)) {
      SpringApp.ModelService service = first.getBean(SpringApp.ModelService.class);
      assertThat(service.find("a").name()).isEqualTo("model a");
      assertThat(service.find("a").name()).isEqualTo("model a");
      assertThat(service.calls()).isEqualTo(1);
    }

    try (AnnotationConfigApplicationContext restarted = SpringApp.start(dir, store)) {
      SpringApp.ModelService service = restarted.getBean(SpringApp.ModelService.class);
      assertThat(service.find("a")).isEqualTo(new SpringApp.Model("a", "model a"));
      assertThat(service.calls()).as("the value survived the restart").isZero();

      // The same application in another JVM, while this one runs: a is cached, b is not yet.
      Fixtures.Child child = Fixtures.runJvm(SpringApp.class, Duration.ofMinutes(2), dir.toString(), store);
      assertThat(child.exitCode()).as(child.output()).isZero();
      assertThat(child.output()).contains("calls=1 a=model a b=model b");

      Cache<Object, Object> models = restarted.getBean(javax.cache.CacheManager.class).getCache("models");
      await().atMost(Duration.ofSeconds(10)).until(() -> models.containsKey("b"));
      assertThat(service.find("b")).isEqualTo(new SpringApp.Model("b", "model b"));
      assertThat(service.calls()).as("b came from the other JVM").isZero();
    }
  }

  /** The broken variant: a JVM on another directory shares nothing, and runs its lookups itself. */
  @Test
  void aJvmOnAnotherDirectorySharesNothing() throws Exception {
    try (AnnotationConfigApplicationContext context = SpringApp.start(dir, "json-files")) {
      context.getBean(SpringApp.ModelService.class).find("a");
      Path other = Files.createDirectories(dir.resolve("other"));
      Fixtures.Child child = Fixtures.runJvm(SpringApp.class, Duration.ofMinutes(2), other.toString(), "json-files");
      assertThat(child.exitCode()).as(child.output()).isZero();
      assertThat(child.output()).contains("calls=2 a=model a b=model b");
    }
  }
}
