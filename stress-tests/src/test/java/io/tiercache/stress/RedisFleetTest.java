package io.tiercache.stress;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * JVMs on one real redis-server: no read is stale past the bound, and with client tracking off the
 * harness catches the stale reads and its main exits 1 ({@code -Dstress.long=true}: 8 JVMs, 30 s).
 */
class RedisFleetTest {
  static final boolean LONG = Boolean.getBoolean("stress.long");
  @TempDir static Path dir;
  static RedisProcess redis;

  @BeforeAll
  static void startRedis() throws Exception {
    redis = new RedisProcess(dir);
  }

  @AfterAll
  static void stopRedis() throws Exception {
    redis.close();
  }

  @Test
  void noJvmServesAStaleReadPastTheBound() throws Exception {
    RedisFleet.Result r = RedisFleet.run(redis.uri(), LONG ? 8 : 3, LONG ? 30 : 3, 16, 250, false);
    System.out.println(r.measurement() + "\n" + r.line());
    assertThat(r.writes()).isPositive();
    assertThat(r.reads()).isPositive();
    assertThat(r.staleReadsAfterBound()).as(r.line()).isZero();
  }

  @Test
  void theHarnessCatchesFrontTiersWithoutInvalidation() throws Exception {
    Process p = Children.start(RedisFleet.class, List.of("--store", "redis", "--redis-uri", redis.uri().toString(),
        "--jvms", "2", "--seconds", "2", "--keys", "4", "--bound-ms", "250", "--no-tracking"));
    try {
      assertThat(p.waitFor(2, TimeUnit.MINUTES)).isTrue();
      List<String> lines = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip().lines().toList();
      System.out.println("no tracking (main): " + lines);
      assertThat(lines.get(lines.size() - 1)).matches("jvms=2 writes=[1-9][0-9]* staleReadsAfterBound=[1-9][0-9]*");
      assertThat(p.exitValue()).isEqualTo(1);
    } finally {
      Children.killAll(List.of(p));
    }
  }
}
