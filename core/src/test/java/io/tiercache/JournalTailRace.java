package io.tiercache;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * The journal tail reader racing the appender. Two stores on the same files in one JVM behave as
 * two processes (each has its own descriptors; the public API would share one store through the
 * registry, hence package {@code io.tiercache}, in core's test sources: stress-tests' jcstress.jar
 * runs it from core's test jar). Store A appends a put; store B tails the journal concurrently. B sees nothing or the complete value, never a partial line (r1; a value B read from a
 * snapshot is re-indented, so values are compared without whitespace); once the
 * append has returned, B's next refresh sees it (r2). A's background compactions replace the
 * journal now and then, so B also follows sealed journals.
 */
@JCStressTest
@Outcome(id = "0, 1", expect = ACCEPTABLE, desc = "tailed before the append; seen after")
@Outcome(id = "1, 1", expect = ACCEPTABLE_INTERESTING, desc = "tailed the complete line")
@Outcome(expect = FORBIDDEN, desc = "a partial value, or a completed append not seen")
@State
public class JournalTailRace {
  static final Path DIR;
  static final JsonFileStore A;
  static final JsonFileStore B;
  static final AtomicLong IDS = new AtomicLong();

  static {
    try {
      Path shm = Path.of("/dev/shm");
      Path parent = Files.isDirectory(shm) && Files.isWritable(shm) ? shm : Path.of(System.getProperty("java.io.tmpdir"));
      DIR = Files.createTempDirectory(parent, "tiercache-jcstress-tail-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    A = JsonFileStore.open(settings());
    B = JsonFileStore.open(settings());
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      for (String f : new String[] {"tail.json", "tail.snapshot", "tail.journal", "tail.state", "tail.lock"}) {
        DIR.resolve(f).toFile().delete();
      }
      DIR.toFile().delete();
    }));
  }

  static StoreConfig settings() {
    // compact often (64 KiB), so the reader follows replaced journals
    return TieredCache.builder(String.class, String.class).directory(DIR).name("tail").expireAfter(Duration.ofDays(1))
        .refreshInterval(Duration.ZERO).compactionMinBytes(64 << 10).config().store();
  }

  static final byte[] VALUE = "{\"a\":1,\"b\":\"two\"}".getBytes(StandardCharsets.US_ASCII);

  final String key = "k" + IDS.incrementAndGet();

  static int seen(JsonFileStore store, String key) {
    PersistentStore.Value v = store.get(key);
    if (v == null) {
      return 0;
    }
    // A value read back from a snapshot is re-indented: compare without the whitespace.
    StringBuilder compact = new StringBuilder();
    for (int i = v.bytes.offset; i < v.bytes.offset + v.bytes.length; i++) {
      byte b = v.bytes.buf[i];
      if (!JsonText.isWhitespace(b)) {
        compact.append((char) b);
      }
    }
    return compact.toString().equals(new String(VALUE, StandardCharsets.US_ASCII)) ? 1 : 9;
  }

  @Actor
  public void appender() {
    A.await(A.put(key, VALUE));
  }

  @Actor
  public void tailer(II_Result r) {
    B.refresh();
    r.r1 = seen(B, key);
  }

  @Arbiter
  public void arbiter(II_Result r) {
    B.refresh();
    r.r2 = seen(B, key);
    A.await(A.remove(key));
  }
}
