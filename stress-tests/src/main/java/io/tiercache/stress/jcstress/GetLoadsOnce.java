package io.tiercache.stress.jcstress;

import static org.openjdk.jcstress.annotations.Expect.ACCEPTABLE;
import static org.openjdk.jcstress.annotations.Expect.FORBIDDEN;

import io.tiercache.TieredCache;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.openjdk.jcstress.annotations.Actor;
import org.openjdk.jcstress.annotations.Arbiter;
import org.openjdk.jcstress.annotations.JCStressTest;
import org.openjdk.jcstress.annotations.Outcome;
import org.openjdk.jcstress.annotations.State;
import org.openjdk.jcstress.infra.results.III_Result;

/**
 * Two threads call {@code get(key, loader)} on an absent key: the loader runs once (r3), and both
 * callers get the one loaded value (r1, r2 are the load number each saw).
 */
@JCStressTest
@Outcome(id = "1, 1, 1", expect = ACCEPTABLE, desc = "loaded once, both saw that value")
@Outcome(expect = FORBIDDEN, desc = "loaded twice, or a caller saw another value")
@State
public class GetLoadsOnce {
  static final TieredCache<String, Pair> CACHE = TieredCache.builder(String.class, Pair.class)
      .directory(Dirs.ROOT.resolve("loads")).name("loads").expireAfter(Duration.ofDays(1))
      .refreshInterval(Duration.ZERO).build();

  final String key = Dirs.uniqueKey();
  final AtomicInteger loads = new AtomicInteger();

  Pair load(String k) {
    return new Pair(loads.incrementAndGet(), 0);
  }

  @Actor
  public void actor1(III_Result r) {
    r.r1 = CACHE.get(key, this::load).a();
  }

  @Actor
  public void actor2(III_Result r) {
    r.r2 = CACHE.get(key, this::load).a();
  }

  @Arbiter
  public void arbiter(III_Result r) {
    r.r3 = loads.get();
    CACHE.invalidate(key);
  }
}
