package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.tiercache.Assets.Model;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The {@code flock} lock: two holders exclude each other, the Python SDK's {@code filelock} (the same
 * {@code flock}, from the machine's python3) and tiercache exclude each other both ways, an unlinked
 * file is noticed, and a timeout names the file and its holder.
 */
class LockFileTest {
  @TempDir Path dir;

  /** A Python process that takes flock on the file, says "locked", and releases when told. */
  static final String HOLDER = "import fcntl,sys\n"
      + "f = open(sys.argv[1], 'a')\n"
      + "fcntl.flock(f, fcntl.LOCK_EX)\n"
      + "print('locked', flush=True)\n"
      + "sys.stdin.readline()\n"
      + "fcntl.flock(f, fcntl.LOCK_UN)\n";

  LockFile lock(Path file, long timeoutMillis) {
    return new LockFile(file, Duration.ofMillis(timeoutMillis), FileOps.ownerOnly());
  }

  @Test
  void twoHoldersExcludeEachOtherAndATimeoutNamesTheFileAndTheHolder() {
    Path file = dir.resolve("c.lock");
    try (LockFile a = lock(file, 1_000); LockFile b = lock(file, 150)) {
      a.lock();
      assertThat(b.tryLock()).isFalse();
      assertThatThrownBy(b::lock).isInstanceOf(LockTimeoutException.class)
          .hasMessageContaining(file.toString()).hasMessageContaining("process " + ProcessHandle.current().pid());
      a.unlock();
      assertThat(b.tryLock()).isTrue();
      assertThatThrownBy(b::lock).isInstanceOf(IllegalStateException.class); // not reentrant
      b.unlock();
    }
  }

  @Test
  void aLockFileUnlinkedWhileHeldIsNotTrustedAgain() throws Exception {
    Path file = dir.resolve("c.lock");
    try (LockFile a = lock(file, 1_000); LockFile b = lock(file, 1_000)) {
      a.lock();
      Files.delete(file); // what the Python SDK's invalidate() does
      // b locks the new file the name now gives; a, locking again, must find the same new file.
      assertThat(b.tryLock()).isTrue();
      a.unlock();
      assertThat(a.tryLock()).as("a locks the file the name names now, which b holds").isFalse();
      b.unlock();
      assertThat(a.tryLock()).isTrue();
      a.unlock();
    }
  }

  /**
   * Unlinked as fast as another thread can, between our create and our chmod too: every lock still
   * succeeds, on whatever file the name gives at that moment.
   */
  @Test
  void aLockFileUnlinkedInALoopNeverFailsALock() throws Exception {
    Path file = dir.resolve("c.lock");
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.concurrent.atomic.AtomicLong unlinks = new java.util.concurrent.atomic.AtomicLong();
    Thread unlinker = new Thread(() -> {
      while (!stop.get()) {
        try {
          if (Files.deleteIfExists(file)) {
            unlinks.incrementAndGet();
          }
        } catch (java.io.IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    });
    unlinker.start();
    try {
      for (int i = 0; i < 3_000; i++) {
        try (LockFile lock = lock(file, 5_000)) {
          lock.lock();
        }
      }
    } finally {
      stop.set(true);
      unlinker.join();
    }
    assertThat(unlinks.get()).as("the loop did unlink").isPositive();
  }

  @Test
  void aPythonHolderBlocksTiercachesExportButNotItsAppends() throws Exception {
    AssetCache<Model> cache = AssetCache.builder(Model.class)
        .configure(b -> b.directory(dir).lockTimeout(Duration.ofMillis(300))).build();
    Process python = new ProcessBuilder("python3", "-c", HOLDER, cache.lockFile().toString()).start();
    try (cache) {
      BufferedReader out = new BufferedReader(new InputStreamReader(python.getInputStream(), UTF_8));
      assertThat(out.readLine()).isEqualTo("locked");
      cache.add(Model.of("a")); // an append: no lock
      assertThatThrownBy(cache::save).isInstanceOf(LockTimeoutException.class)
          .hasMessageContaining(cache.lockFile().toString())
          .hasMessageContaining("process " + python.pid());
      try (Writer in = new OutputStreamWriter(python.getOutputStream(), UTF_8)) {
        in.write("\n");
      }
      assertThat(python.waitFor(10, TimeUnit.SECONDS)).isTrue();
      cache.save();
      assertThat(Files.readString(cache.cacheFile())).contains("\"a\"");
    } finally {
      python.destroyForcibly();
    }
  }

  @Test
  void aTiercacheHolderBlocksPythonsFlock() throws Exception {
    Path file = dir.resolve("model.lock");
    String tryLock = "import fcntl,sys\n"
        + "f = open(sys.argv[1], 'a')\n"
        + "try:\n"
        + "    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        + "    print('acquired')\n"
        + "except BlockingIOError:\n"
        + "    print('blocked')\n";
    try (LockFile held = lock(file, 5_000)) {
      held.lock();
      assertThat(PythonFormatTest.python(tryLock, file.toString())).isEqualTo("blocked");
    }
    assertThat(PythonFormatTest.python(tryLock, file.toString())).isEqualTo("acquired");
  }
}
