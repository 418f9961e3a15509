package io.tiercache.jmh.report;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * One JMH result (one benchmark, mode, thread count and parameter set), with its raw data per
 * fork so that statistics can be computed per fork (see {@link Estimate} for why the fork is the
 * replicate). Rows of the same key from several files (repeated harness runs) are merged by
 * concatenating their forks.
 *
 * @param benchmark {@code Class.method}
 * @param mode JMH's mode: thrpt, avgt, sample, ss
 * @param unit JMH's score unit, e.g. {@code us/op}, {@code ops/us}, {@code ms/op}, {@code B/op}
 * @param score JMH's own score over all forks
 * @param error JMH's 99.9% half-width (NaN when it gave none)
 * @param forks the raw data, one entry per fork
 * @param secondary secondary metrics by name ({@code gc.alloc.rate.norm}, a group's methods)
 */
record Row(String benchmark, String mode, int threads, Map<String, String> params, String unit, double score,
    double error, List<Fork> forks, Map<String, Row> secondary) {

  /**
   * One fork's measurement iterations: a score per iteration, and for SampleTime the histogram
   * of each iteration as (value, count) pairs.
   */
  record Fork(double[] scores, List<double[][]> histograms) {}

  /**
   * The least speed-up from the first measurement iteration to the last among the forks: above
   * {@link #WARMING} every fork was still getting faster, so the JIT (or a cache filling, or a heap
   * being touched for the first time) was still at work, and the row measures the warm-up, not the
   * steady state. 1 when a fork has fewer than two iterations, and for single-shot rows, which time
   * cold operations on purpose.
   */
  double speedUp() {
    if (mode.equals("ss") || forks.isEmpty()) {
      return 1;
    }
    double least = Double.POSITIVE_INFINITY;
    for (Fork f : forks) {
      double[] s = f.scores();
      if (s.length < 2) {
        return 1;
      }
      double first = s[0];
      double last = s[s.length - 1];
      least = Math.min(least, isTime() ? first / last : last / first);
    }
    return least;
  }

  /** The speed-up from first to last iteration in every fork above which a row has not warmed up. */
  static final double WARMING = 1.25;

  String param(String name) {
    return params.getOrDefault(name, "");
  }

  boolean sampled() {
    return mode.equals("sample");
  }

  boolean isTime() {
    return unit.endsWith("/op");
  }

  /** The factor from this row's unit to the report's: microseconds for times, operations per second for rates. */
  double toReportUnit() {
    switch (unit) {
      case "ns/op": return 1e-3;
      case "us/op": return 1;
      case "ms/op": return 1e3;
      case "s/op": return 1e6;
      case "ops/ns": return 1e9;
      case "ops/us": return 1e6;
      case "ops/ms": return 1e3;
      case "ops/s": return 1;
      case "ops/min": return 1 / 60.0;
      default: return 1; // B/op, B/entry, ratios: as they are
    }
  }

  /** {@code statistic} of each fork, in the report's unit (see {@link #toReportUnit}). */
  double[] perFork(Statistic statistic) {
    return forks.stream().mapToDouble(f -> statistic(statistic, f.scores(), f.histograms()) * toReportUnit()).toArray();
  }

  /** {@code statistic} of each iteration of each fork: the replicates when there is one fork. */
  double[] perIteration(Statistic statistic) {
    List<Double> values = new ArrayList<>();
    for (Fork f : forks) {
      for (int i = 0; i < f.scores().length; i++) {
        List<double[][]> histogram = f.histograms().isEmpty() ? List.of() : List.<double[][]>of(f.histograms().get(i));
        values.add(statistic(statistic, new double[] {f.scores()[i]}, histogram) * toReportUnit());
      }
    }
    return values.stream().mapToDouble(Double::doubleValue).toArray();
  }

  /**
   * The estimate of {@code statistic}: across forks when there are two or more; with one fork,
   * across its iterations (what JMH's own error does), which misses run-to-run variance and is
   * labelled as such in the report.
   */
  Estimate estimate(Statistic statistic) {
    return Estimate.of(forks.size() >= 2 ? perFork(statistic) : perIteration(statistic));
  }

  /**
   * Operations per second over all threads, per replicate: JMH's throughput is already a total,
   * while its time modes report one thread's mean time per operation.
   */
  Estimate throughput() {
    double[] values = forks.size() >= 2 ? perFork(Statistic.MEAN) : perIteration(Statistic.MEAN);
    if (isTime()) {
      values = Arrays.stream(values).map(micros -> threads * 1e6 / micros).toArray();
    }
    return Estimate.of(values);
  }

  private double statistic(Statistic statistic, double[] scores, List<double[][]> histograms) {
    if (!histograms.isEmpty()) {
      return fromHistogram(statistic, histograms);
    }
    if (statistic == Statistic.MEAN) {
      return Arrays.stream(scores).average().orElse(Double.NaN);
    }
    if (!mode.equals("ss")) {
      throw new IllegalArgumentException(benchmark + " (" + mode + ") has no distribution: only its mean is known");
    }
    double[] sorted = scores.clone(); // single shot: each iteration is one sample
    Arrays.sort(sorted);
    return sorted[(int) rank(statistic.quantile, sorted.length) - 1];
  }

  private static double fromHistogram(Statistic statistic, List<double[][]> histograms) {
    List<double[]> pairs = new ArrayList<>();
    long count = 0;
    double sum = 0;
    for (double[][] h : histograms) {
      for (double[] pair : h) {
        pairs.add(pair);
        count += (long) pair[1];
        sum += pair[0] * pair[1];
      }
    }
    if (count == 0) {
      return Double.NaN;
    }
    if (statistic == Statistic.MEAN) {
      return sum / count;
    }
    pairs.sort(Comparator.comparingDouble(p -> p[0]));
    long wanted = rank(statistic.quantile, count);
    long seen = 0;
    for (double[] pair : pairs) {
      seen += (long) pair[1];
      if (seen >= wanted) {
        return pair[0];
      }
    }
    return pairs.get(pairs.size() - 1)[0];
  }

  /** Nearest rank (1-based) of quantile q among n values. */
  private static long rank(double q, long n) {
    return Math.max(1, Math.min(n, (long) Math.ceil(q * n)));
  }
}
