package io.tiercache;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.I_Result;

/**
 * The flock lock file's mutual exclusion: two actors, each with its own {@link LockFile} (its own
 * descriptor, as two processes have), do lock; read-increment-write a plain field; unlock. Both
 * increments must survive. The lock polls with a bounded back-off, so there is no wake-up to lose:
 * a lost one would hang the test, which jcstress reports.
 */
@JCStressTest
@Outcome(id = "2", expect = ACCEPTABLE, desc = "both increments")
@Outcome(expect = FORBIDDEN, desc = "both actors were inside the lock at once")
@State
public class LockFileExclusion {
  static final Path LOCK;

  static {
    try {
      Path shm = Path.of("/dev/shm");
      Path parent = Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
      Path dir = Files.createTempDirectory(parent, "tiercache-jcstress-lock-");
      LOCK = dir.resolve("x.lock");
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        LOCK.toFile().delete();
        dir.toFile().delete();
      }));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One descriptor per actor thread, reused across states: opening per state would dominate. */
  static final ThreadLocal<LockFile> LOCKS =
      ThreadLocal.withInitial(() -> new LockFile(LOCK, Duration.ofSeconds(30), FileOps.ownerOnly()));

  int counter;

  void increment() {
    LockFile lock = LOCKS.get();
    lock.lock();
    try {
      int c = counter;
      Thread.onSpinWait();
      counter = c + 1;
    } finally {
      lock.unlock();
    }
  }

  @Actor
  public void actor1() {
    increment();
  }

  @Actor
  public void actor2() {
    increment();
  }

  @Arbiter
  public void arbiter(I_Result r) {
    r.r1 = counter;
  }
}
