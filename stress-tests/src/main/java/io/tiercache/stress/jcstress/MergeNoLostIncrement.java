package io.tiercache.stress.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.tiercache.CacheFiles;
import io.tiercache.TieredCache;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.II_Result;

/**
 * Two threads increment one key with {@code asMap().merge(key, 1, Integer::sum)} through the whole
 * write path (front tier compute, store, in-JVM lock, flock, journal append under
 * {@code Durability.WRITE}). No increment may be lost, in memory or in the files: r1 is the value
 * in memory, r2 the value the files hold (journal replayed over the snapshot, read by CacheFiles).
 */
@JCStressTest
@Outcome(id = "2, 2", expect = ACCEPTABLE, desc = "both increments, in memory and on disk")
@Outcome(expect = FORBIDDEN, desc = "an increment was lost, or the files disagree with memory")
@State
public class MergeNoLostIncrement {
  static final TieredCache<String, Integer> CACHE = TieredCache.builder(String.class, Integer.class)
      .directory(Dirs.ROOT.resolve("merge")).name("counters").expireAfter(Duration.ofDays(1))
      .refreshInterval(Duration.ZERO).build();

  final String key = Dirs.uniqueKey();

  @Actor
  public void actor1() {
    CACHE.asMap().merge(key, 1, Integer::sum);
  }

  @Actor
  public void actor2() {
    CACHE.asMap().merge(key, 1, Integer::sum);
  }

  @Arbiter
  public void arbiter(II_Result r) {
    Integer v = CACHE.getIfPresent(key);
    r.r1 = v == null ? -1 : v;
    String onDisk = CacheFiles.contents(Dirs.ROOT.resolve("merge").resolve("counters.json")).entries().get(key);
    r.r2 = onDisk == null ? -1 : Integer.parseInt(onDisk);
    CACHE.invalidate(key); // keeps the index, and so each compaction, small
  }
}
