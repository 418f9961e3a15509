package io.tiercache.stress.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE_INTERESTING;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.tiercache.TieredCache;
import java.time.Duration;
import java.util.Map;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * One thread puts a two-field value through one handle; another reads the key through a second
 * handle of a different value type (a second front tier over the same shared store). The reader
 * sees nothing or the whole value, never a half-built one (r1, r2); and once the put has returned,
 * the second handle must see it (r3 = 1): a front tier must not keep serving a stale miss.
 */
@JCStressTest
@Outcome(id = "-1, -1, 1", expect = ACCEPTABLE, desc = "read before the put; visible afterwards")
@Outcome(id = "1, 2, 1", expect = ACCEPTABLE_INTERESTING, desc = "read the whole value")
@Outcome(expect = FORBIDDEN, desc = "a torn value, or the second handle misses a completed put")
@State
public class PutGetVisibility {
  static final java.nio.file.Path DIR = Dirs.ROOT.resolve("visibility");
  static final TieredCache<String, Pair> WRITER = TieredCache.builder(String.class, Pair.class)
      .directory(DIR).name("pairs").expireAfter(Duration.ofDays(1)).refreshInterval(Duration.ZERO).build();
  @SuppressWarnings({"unchecked", "rawtypes"})
  static final TieredCache<String, Map<String, Object>> READER =
      (TieredCache) TieredCache.builder(String.class, Map.class)
          .directory(DIR).name("pairs").expireAfter(Duration.ofDays(1)).refreshInterval(Duration.ZERO).build();

  final String key = Dirs.uniqueKey();

  @Actor
  public void writer() {
    WRITER.put(key, new Pair(1, 2));
  }

  @Actor
  public void reader(III_Result r) {
    Map<String, Object> v = READER.getIfPresent(key);
    r.r1 = v == null ? -1 : ((Number) v.get("a")).intValue();
    r.r2 = v == null ? -1 : ((Number) v.get("b")).intValue();
  }

  @Arbiter
  public void arbiter(III_Result r) {
    Map<String, Object> v = READER.getIfPresent(key);
    r.r3 = v != null && ((Number) v.get("a")).intValue() == 1 && ((Number) v.get("b")).intValue() == 2 ? 1 : 0;
    WRITER.invalidate(key);
  }
}
