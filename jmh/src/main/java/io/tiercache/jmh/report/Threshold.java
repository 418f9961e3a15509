package io.tiercache.jmh.report;

import java.util.Locale;

/** A goal's bound on a ratio (or on an absolute value): at least or at most {@code value}. */
record Threshold(boolean atLeast, double value) {
  static Threshold atLeast(double value) {
    return new Threshold(true, value);
  }

  static Threshold atMost(double value) {
    return new Threshold(false, value);
  }

  /** PASS only when the whole interval clears the bound, MISS only when it wholly fails it. */
  Verdict judge(Ratio r) {
    double low = r.low();
    double high = r.high();
    if (atLeast) {
      return low >= value ? Verdict.PASS : high < value ? Verdict.MISS : Verdict.INCONCLUSIVE;
    }
    return high <= value ? Verdict.PASS : low > value ? Verdict.MISS : Verdict.INCONCLUSIVE;
  }

  @Override
  public String toString() {
    return (atLeast ? ">= " : "<= ") + String.format(Locale.ROOT, "%.3g", value);
  }
}
