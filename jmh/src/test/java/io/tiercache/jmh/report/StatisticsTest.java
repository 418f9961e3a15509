package io.tiercache.jmh.report;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import org.junit.jupiter.api.Test;

class StatisticsTest {

  @Test
  void studentQuantilesMatchTheTables() {
    // Two-sided 95% critical values from any t table.
    assertThat(StudentT.quantile(0.975, 1)).isCloseTo(12.706, within(1e-3));
    assertThat(StudentT.quantile(0.975, 2)).isCloseTo(4.303, within(1e-3));
    assertThat(StudentT.quantile(0.975, 4)).isCloseTo(2.776, within(1e-3));
    assertThat(StudentT.quantile(0.975, 30)).isCloseTo(2.042, within(1e-3));
    assertThat(StudentT.quantile(0.9995, 4)).isCloseTo(8.610, within(1e-3));
    assertThat(StudentT.quantile(0.975, Double.POSITIVE_INFINITY)).isCloseTo(1.960, within(1e-3));
    // Fractional (Welch) degrees of freedom fall between their neighbours.
    assertThat(StudentT.quantile(0.975, 2.5)).isBetween(3.182, 4.303);
  }

  @Test
  void ratioIntervalIsTheWelchLogRatioInterval() {
    // Worked by hand: a = {10, 12} (mean 11, s² = 2), b = {5, 5.5, 6} (mean 5.5, s² = 0.25).
    Estimate a = Estimate.of(10, 12);
    Estimate b = Estimate.of(5, 5.5, 6);
    double va = 2.0 / (2 * 121);
    double vb = 0.25 / (3 * 30.25);
    assertThat(a.relativeVariance()).isCloseTo(va, within(1e-12));
    assertThat(b.relativeVariance()).isCloseTo(vb, within(1e-12));
    double df = (va + vb) * (va + vb) / (va * va / 1 + vb * vb / 2);
    double half = StudentT.quantile(0.975, df) * Math.sqrt(va + vb);
    Ratio r = Ratio.of(a, b);
    assertThat(r.ratio()).isCloseTo(2.0, within(1e-12));
    assertThat(r.df()).isCloseTo(df, within(1e-9));
    assertThat(r.low()).isCloseTo(2.0 * Math.exp(-half), within(1e-9));
    assertThat(r.high()).isCloseTo(2.0 * Math.exp(half), within(1e-9));
    // The interval of the inverse ratio is the inverse interval.
    Ratio inverse = Ratio.of(b, a);
    assertThat(inverse.low()).isCloseTo(1 / r.high(), within(1e-9));
  }

  @Test
  void oneReplicateGivesNoInterval() {
    Ratio r = Ratio.of(Estimate.of(3.0), Estimate.of(2.0, 2.1));
    assertThat(r.hasInterval()).isFalse();
    assertThat(Threshold.atLeast(1).judge(r)).isEqualTo(Verdict.INCONCLUSIVE);
  }

  @Test
  void theForksEstimatedToDecideDoDecide() {
    double[] a = {1.0, 1.2};
    double[] b = {1.0, 1.02};
    Ratio measured = Ratio.of(Estimate.of(a), Estimate.of(b));
    Threshold bound = Threshold.atLeast(0.95);
    assertThat(bound.judge(measured)).isEqualTo(Verdict.INCONCLUSIVE);
    int n = measured.replicatesToDecide(0.95);
    assertThat(n).isGreaterThan(2);
    // n forks with the same means and spreads decide it; n - 1 do not.
    assertThat(bound.judge(Ratio.of(Estimate.of(sameSpread(a, n)), Estimate.of(sameSpread(b, n)))))
        .isEqualTo(Verdict.PASS);
    assertThat(bound.judge(Ratio.of(Estimate.of(sameSpread(a, n - 1)), Estimate.of(sameSpread(b, n - 1)))))
        .isEqualTo(Verdict.INCONCLUSIVE);
    // A ratio exactly on its threshold is never decided.
    assertThat(measured.replicatesToDecide(measured.ratio())).isEqualTo(-1);
  }

  /** n evenly spaced values with the mean and sample standard deviation of {@code values}. */
  private static double[] sameSpread(double[] values, int n) {
    double mean = java.util.Arrays.stream(values).average().orElseThrow();
    double ss = java.util.Arrays.stream(values).map(v -> (v - mean) * (v - mean)).sum();
    double sd = Math.sqrt(ss / (values.length - 1));
    // Evenly spaced values ±d have a sample variance of d² n (n + 1) / (3 (n - 1)²).
    return Jmh.around(mean, sd / Math.sqrt(n * (n + 1) / (3.0 * (n - 1) * (n - 1))), n);
  }

  @Test
  void percentilesComeFromEachForksHistogram() {
    Jmh jmh = new Jmh().sampled("WriteBenchmark.put", 1,
        new double[][] {{1, 2, 3, 4, 5, 6, 7, 8, 9, 100}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 50}}, "target", "x");
    Row row = Results.parse(List.of(jmh.json())).rows.get(0);
    assertThat(row.perFork(Statistic.P50)).containsExactly(5, 1);
    assertThat(row.perFork(Statistic.P999)).containsExactly(100, 50);
    assertThat(row.perFork(Statistic.MEAN)).containsExactly(14.5, 5.9);
  }

  @Test
  void repeatedRunsOfOneConfigurationMergeTheirForks() {
    Jmh first = new Jmh().row("MultiProcess.add", "thrpt", "ops/s", 1, new double[][] {{1000}}, "processes", "2");
    Jmh second = new Jmh().row("MultiProcess.add", "thrpt", "ops/s", 1, new double[][] {{1200}}, "processes", "2");
    Results results = Results.parse(List.of(first.json(), second.json()));
    assertThat(results.rows).hasSize(1);
    assertThat(results.rows.get(0).perFork(Statistic.MEAN)).containsExactly(1000, 1200);
    assertThat(results.rows.get(0).throughput().replicates()).isEqualTo(2);
  }

  @Test
  void throughputOfATimeModeCountsEveryThread() {
    Jmh jmh = new Jmh().sampled("WriteBenchmark.put", 4, new double[][] {{100, 100}, {200, 200}}, "target", "x");
    Row row = Results.parse(List.of(jmh.json())).rows.get(0);
    // 4 threads at 100 us each: 40,000 adds/s; at 200 us: 20,000.
    assertThat(row.throughput().value()).isCloseTo(30_000, within(1e-6));
  }
}
