package io.tiercache.stress.faults;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a scenario counted. Violations must be zero in a real run: the four every scenario counts
 * (acknowledged writes lost, expired values served, partial states seen, files touched outside the
 * cache directory) and the scenario's own. Facts say how much happened (writes acknowledged, kills,
 * reads). Details say which id, file or state broke the invariant.
 *
 * <pre>disk-full: lostAcked=0 expiredServed=0 partialStates=0 outsideTouched=0 damagedWarnings=0 | acked=300</pre>
 */
public final class Tally {
  public static final String LOST_ACKED = "lostAcked";
  public static final String EXPIRED_SERVED = "expiredServed";
  public static final String PARTIAL_STATES = "partialStates";
  public static final String OUTSIDE_TOUCHED = "outsideTouched";

  private final String scenario;
  private final Map<String, Long> violations = new LinkedHashMap<>();
  private final Map<String, Long> facts = new LinkedHashMap<>();
  private final List<String> details = new ArrayList<>();

  Tally(String scenario, String... ownViolations) {
    this.scenario = scenario;
    for (String v : List.of(LOST_ACKED, EXPIRED_SERVED, PARTIAL_STATES, OUTSIDE_TOUCHED)) {
      violations.put(v, 0L);
    }
    for (String v : ownViolations) {
      violations.put(v, 0L);
    }
  }

  /** Adds {@code n} to a violation counter, which must be zero in a real run. */
  synchronized Tally violation(String name, long n) {
    violations.merge(name, n, Long::sum);
    return this;
  }

  /** Adds {@code n} to a violation counter and says why. */
  synchronized Tally violation(String name, long n, String detail) {
    if (n > 0) {
      details.add(name + ": " + detail);
    }
    return violation(name, n);
  }

  /** Adds {@code n} to a fact: how much the run did. */
  synchronized Tally fact(String name, long n) {
    facts.merge(name, n, Long::sum);
    return this;
  }

  synchronized Tally detail(String detail) {
    details.add(detail);
    return this;
  }

  /** Counts one touched file per change the tripwire saw, with the change as the detail. */
  Tally outside(List<String> changes) {
    for (String c : changes) {
      violation(OUTSIDE_TOUCHED, 1, c);
    }
    return this;
  }

  public String scenario() {
    return scenario;
  }

  /** A violation counter or a fact; 0 when never counted. */
  public synchronized long get(String name) {
    Long v = violations.get(name);
    return v != null ? v : facts.getOrDefault(name, 0L);
  }

  /** The sum of the violation counters: zero when every invariant held. */
  public synchronized long violations() {
    return violations.values().stream().mapToLong(Long::longValue).sum();
  }

  public synchronized List<String> details() {
    return List.copyOf(details);
  }

  /** One line: the violations, then after {@code |} the facts. */
  public synchronized String line() {
    StringBuilder s = new StringBuilder(scenario).append(':');
    violations.forEach((k, v) -> s.append(' ').append(k).append('=').append(v));
    s.append(" |");
    facts.forEach((k, v) -> s.append(' ').append(k).append('=').append(v));
    return s.toString();
  }

  @Override
  public String toString() {
    return line();
  }
}
