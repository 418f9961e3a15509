package io.tiercache.jmh.report;

import java.util.Arrays;

/**
 * One statistic (a mean, a p99.9, ...) estimated from independent replicates: JMH forks, fresh
 * JVMs, separate runs. Iterations inside one fork are not independent (they share one JIT
 * compilation, one heap layout, one placement on the CPUs), which is why JMH's run-to-run
 * variance only shows across forks; so the replicate is the fork, and a fork contributes the
 * statistic computed over all its measurement iterations.
 *
 * <p>The interval is carried on the log scale: {@code relativeVariance} is the variance of
 * {@code ln(value)}, by the delta method {@code s² / (n · mean²)}, with {@code n - 1} degrees of
 * freedom. Log scale because every quantity here is positive and skewed (times, rates), and
 * because a ratio's log is a difference, whose variances add (see {@link Ratio}).
 *
 * @param value the mean of the replicates' values
 * @param relativeVariance the variance of ln(value); NaN with fewer than two replicates
 * @param df degrees of freedom of that variance; infinite for an exact value
 * @param replicates how many independent values it came from
 */
record Estimate(double value, double relativeVariance, double df, int replicates) {

  /** The mean of {@code values} (one per replicate) and the variance of its logarithm. */
  static Estimate of(double... values) {
    if (values.length == 0) {
      throw new IllegalArgumentException("no values");
    }
    double mean = Arrays.stream(values).average().orElseThrow();
    if (values.length < 2) {
      return new Estimate(mean, Double.NaN, Double.NaN, 1);
    }
    double sumSquares = 0;
    for (double v : values) {
      sumSquares += (v - mean) * (v - mean);
    }
    double variance = sumSquares / (values.length - 1);
    return new Estimate(mean, variance / (values.length * mean * mean), values.length - 1, values.length);
  }

  /** A value known without sampling error: a threshold, a deterministic count. */
  static Estimate exact(double value) {
    return new Estimate(value, 0, Double.POSITIVE_INFINITY, 1);
  }

  /** True when there is a variance to build an interval from. */
  boolean hasInterval() {
    return !Double.isNaN(relativeVariance);
  }
}
