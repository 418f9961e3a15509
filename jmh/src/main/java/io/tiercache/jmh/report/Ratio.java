package io.tiercache.jmh.report;

/**
 * A ratio of two estimates with its confidence interval.
 *
 * <p>Method: log-ratio propagation with Welch's t. {@code ln(a/b) = ln a - ln b}; the two
 * estimates come from separate forks, so the variances of their logs add, and Welch–Satterthwaite
 * gives the degrees of freedom of the sum. The interval is {@code exp(ln(a/b) ± t(0.975, df) · se)}.
 * Chosen over Fieller's method because it never yields an unbounded interval for a denominator
 * that is clearly positive (every denominator here is a time or a rate), it treats a ratio and its
 * inverse symmetrically, and it needs only the per-fork values; chosen over a bootstrap because
 * with 2 to 5 forks a bootstrap has too few distinct resamples to mean anything. The t quantile
 * makes few forks honestly wide: with 2 forks per side the interval is several times wider than
 * JMH's printed error, which is the point.
 *
 * @param ratio the point ratio a / b
 * @param low lower end of the 95% interval (0 when there is no variance to build it from)
 * @param high upper end (infinite when there is no variance)
 * @param se the standard error of ln(ratio)
 * @param df Welch–Satterthwaite degrees of freedom
 */
record Ratio(double ratio, double low, double high, double se, double df, Estimate numerator,
    Estimate denominator) {
  /** Two-sided confidence of every interval in the report. */
  static final double CONFIDENCE = 0.95;

  static Ratio of(Estimate a, Estimate b) {
    double ratio = a.value() / b.value();
    if (!a.hasInterval() || !b.hasInterval()) {
      return new Ratio(ratio, 0, Double.POSITIVE_INFINITY, Double.NaN, Double.NaN, a, b);
    }
    double variance = a.relativeVariance() + b.relativeVariance();
    double df = welch(a.relativeVariance(), a.df(), b.relativeVariance(), b.df());
    if (variance == 0) {
      return new Ratio(ratio, ratio, ratio, 0, df, a, b);
    }
    double se = Math.sqrt(variance);
    double half = StudentT.quantile(0.5 + CONFIDENCE / 2, df) * se;
    return new Ratio(ratio, ratio * Math.exp(-half), ratio * Math.exp(half), se, df, a, b);
  }

  /** {@code a} against a fixed value (a threshold in milliseconds, say). */
  static Ratio of(Estimate a, double constant) {
    return of(a, Estimate.exact(constant));
  }

  static double welch(double va, double dfa, double vb, double dfb) {
    double sum = va + vb;
    double denominator = (Double.isInfinite(dfa) ? 0 : va * va / dfa) + (Double.isInfinite(dfb) ? 0 : vb * vb / dfb);
    return denominator == 0 ? Double.POSITIVE_INFINITY : sum * sum / denominator;
  }

  boolean hasInterval() {
    return !Double.isNaN(se);
  }

  /**
   * How many replicates per side would likely bring the interval clear of {@code threshold},
   * if the per-replicate spread stays as measured: the smallest n (up to 100) whose t · se no
   * longer reaches the threshold; -1 when even 100 would not (the ratio is that close to it), 0 when
   * there is no spread to extrapolate from (fewer than two replicates on a side).
   */
  int replicatesToDecide(double threshold) {
    if (!hasInterval()) {
      return 0;
    }
    double distance = Math.abs(Math.log(ratio) - Math.log(threshold));
    double na = numerator.replicates();
    double nb = denominator.replicates();
    for (int n = 2; n <= 100; n++) {
      // Each side's variance of the mean shrinks as 1/n; an exact side stays exact.
      double va = Double.isInfinite(numerator.df()) ? 0 : numerator.relativeVariance() * na / n;
      double vb = Double.isInfinite(denominator.df()) ? 0 : denominator.relativeVariance() * nb / n;
      double dfa = Double.isInfinite(numerator.df()) ? Double.POSITIVE_INFINITY : n - 1;
      double dfb = Double.isInfinite(denominator.df()) ? Double.POSITIVE_INFINITY : n - 1;
      double half = StudentT.quantile(0.5 + CONFIDENCE / 2, welch(va, dfa, vb, dfb)) * Math.sqrt(va + vb);
      if (half < distance) {
        return n;
      }
    }
    return -1;
  }
}
