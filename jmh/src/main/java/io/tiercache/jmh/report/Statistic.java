package io.tiercache.jmh.report;

/** The statistic a goal is judged on, computed per replicate (fork). */
enum Statistic {
  MEAN("mean", Double.NaN),
  P50("p50", 0.5),
  P99("p99", 0.99),
  P999("p99.9", 0.999);

  final String label;
  final double quantile;

  Statistic(String label, double quantile) {
    this.label = label;
    this.quantile = quantile;
  }
}
