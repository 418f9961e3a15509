package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tiercache.stress.Record;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Python SDK's lock (filelock: flock(2) on the .lock file) and tiercache's exclude each other.
 * Uses the machine's python3 and its standard library only. In package io.tiercache to reach the
 * package-private LockFile (split packages are fine on the class path).
 */
class PythonLockTest {
  @TempDir Path dir;

  /** A Python process that takes flock on the file, says "locked", and releases when told. */
  static final String HOLDER = "import fcntl,sys\n"
      + "f = open(sys.argv[1], 'a')\n"
      + "fcntl.flock(f, fcntl.LOCK_EX)\n"
      + "print('locked', flush=True)\n"
      + "sys.stdin.readline()\n"
      + "fcntl.flock(f, fcntl.LOCK_UN)\n";

  @Test
  void aPythonHolderBlocksTiercacheWritersUntilItReleases() throws Exception {
    AssetCache<Record> cache = AssetCache.builder(Record.class)
        .configure(b -> b.directory(dir).lockTimeout(Duration.ofMillis(300))).build();
    Process python = new ProcessBuilder("python3", "-c", HOLDER, cache.lockFile().toString()).start();
    try (cache) {
      BufferedReader out = new BufferedReader(new InputStreamReader(python.getInputStream(), UTF_8));
      assertThat(out.readLine()).isEqualTo("locked");
      assertThatThrownBy(() -> cache.add(new Record("a", "java", 1, "x")))
          .isInstanceOf(LockTimeoutException.class)
          .hasMessageContaining(cache.lockFile().toString())
          .hasMessageContaining("process " + python.pid());
      try (Writer in = new OutputStreamWriter(python.getOutputStream(), UTF_8)) {
        in.write("\n");
      }
      assertThat(python.waitFor(10, TimeUnit.SECONDS)).isTrue();
      cache.add(new Record("a", "java", 1, "x"));
      assertThat(cache.get("a")).isNotNull();
    } finally {
      python.destroyForcibly();
    }
  }

  @Test
  void aTiercacheHolderBlocksPythonsFlock() throws Exception {
    Path lock = dir.resolve("model.lock");
    LockFile held = new LockFile(lock, Duration.ofSeconds(5), FileOps.ownerOnly());
    String tryLock = "import fcntl,sys\n"
        + "f = open(sys.argv[1], 'a')\n"
        + "try:\n"
        + "    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        + "    print('acquired')\n"
        + "except BlockingIOError:\n"
        + "    print('blocked')\n";
    held.lock();
    try {
      assertThat(python(tryLock, lock)).isEqualTo("blocked");
    } finally {
      held.close();
    }
    assertThat(python(tryLock, lock)).isEqualTo("acquired");
  }

  static String python(String script, Path arg) throws Exception {
    Process p = new ProcessBuilder("python3", "-c", script, arg.toString()).redirectErrorStream(true).start();
    try {
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      return new String(p.getInputStream().readAllBytes(), UTF_8).strip();
    } finally {
      p.destroyForcibly();
    }
  }
}
