package io.tiercache.stress.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.tiercache.CacheFiles;
import io.tiercache.TieredCache;
import java.nio.file.Path;
import java.time.Duration;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * {@code invalidateAll()} races {@code put}. Afterwards memory holds the value or nothing (r1), and
 * after {@code flush()} the snapshot agrees with memory (r2), and so does a fresh read of the files
 * (r3: journal replayed over the snapshot). Each state has its own cache (its own files), so the
 * clear of one state never touches another's key.
 */
@JCStressTest
@Outcome(id = "1, 1, 1", expect = ACCEPTABLE, desc = "put after the clear: kept, in memory and on disk")
@Outcome(id = "0, 0, 0", expect = ACCEPTABLE_INTERESTING, desc = "clear after the put: gone everywhere")
@Outcome(expect = FORBIDDEN, desc = "the files disagree with memory")
@State
public class InvalidateAllRacingPut {
  final Path dir = Dirs.fresh();
  final TieredCache<String, Pair> cache = TieredCache.builder(String.class, Pair.class)
      .directory(dir).name("c").expireAfter(Duration.ofDays(1)).refreshInterval(Duration.ZERO).build();

  {
    cache.put("other", new Pair(0, 0)); // a clear must take this one too
  }

  @Actor
  public void put() {
    cache.put("k", new Pair(1, 2));
  }

  @Actor
  public void clear() {
    cache.invalidateAll();
  }

  @Arbiter
  public void arbiter(III_Result r) {
    try {
      r.r1 = cache.getIfPresent("k") != null ? 1 : 0;
      boolean otherGone = cache.getIfPresent("other") == null;
      cache.flush();
      CacheFiles.Contents files = CacheFiles.contents(dir.resolve("c.json"));
      CacheFiles.Inspection i = CacheFiles.inspect(dir.resolve("c.json"));
      r.r2 = i.snapshotEntries() == (r.r1 == 1 ? 1 : 0) && otherGone ? r.r1 : 9;
      r.r3 = files.entries().containsKey("k") ? 1 : 0;
      if (files.entries().containsKey("other")) {
        r.r3 = 9;
      }
    } finally {
      cache.close();
      Dirs.delete(dir);
    }
  }
}
