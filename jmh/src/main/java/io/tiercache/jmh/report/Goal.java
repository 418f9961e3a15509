package io.tiercache.jmh.report;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * A performance goal and its verdict rows. Each row compares a subject with a baseline (or a
 * fixed value) on the goal's statistic; the goal's verdict is its worst judged row's: MISS if any
 * row misses, else NO DATA if a row it needs was not measured, else INCONCLUSIVE if any interval
 * straddles the threshold, else PASS. A goal with no judged row at all is NO DATA: nothing is ever
 * skipped. Rows with more threads than the machine has cores are shown but not judged.
 */
final class Goal {
  /** One row: what was compared, the ratio with its interval, and what it says. */
  record Judgement(String label, Ratio ratio, Threshold threshold, Verdict verdict, String note, Row subject,
      Row baseline) {
    /**
     * Replicates per side likely to decide an INCONCLUSIVE row; see {@link Ratio#replicatesToDecide}.
     * 0 for a side still warming up: more forks of that would not decide it.
     */
    int replicatesToDecide() {
      return ratio == null || verdict != Verdict.INCONCLUSIVE || speedUp() >= Row.WARMING ? 0
          : ratio.replicatesToDecide(threshold.value());
    }

    /** The larger of the two sides' {@link Row#speedUp}. */
    double speedUp() {
      return Math.max(subject == null ? 1 : subject.speedUp(), baseline == null ? 1 : baseline.speedUp());
    }
  }

  final String name;
  final Statistic statistic;
  final Threshold threshold;
  /** {@code x} for ratios, or the unit of an absolute value such as {@code ms}. */
  final String unit;
  final List<Judgement> rows = new ArrayList<>();

  Goal(String name, Statistic statistic, Threshold threshold) {
    this(name, statistic, threshold, "x");
  }

  Goal(String name, Statistic statistic, Threshold threshold, String unit) {
    this.name = name;
    this.statistic = statistic;
    this.threshold = threshold;
    this.unit = unit;
  }

  /**
   * A row comparing {@code subject} with {@code baseline}, both measured by {@code measure}; judged
   * unless {@code threads} exceeds {@code cores}. A missing side makes the row NO DATA.
   */
  Goal compare(String label, Row subject, Row baseline, Function<Row, Estimate> measure, int threads, int cores,
      Threshold bound) {
    if (subject == null || baseline == null) {
      rows.add(new Judgement(label, null, bound, Verdict.NO_DATA,
          "not measured: " + (subject == null ? "subject" : "") + (subject == null && baseline == null ? " and " : "")
              + (baseline == null ? "baseline" : ""), subject, baseline));
      return this;
    }
    return add(label, Ratio.of(measure.apply(subject), measure.apply(baseline)), threads, cores, bound, subject,
        baseline);
  }

  Goal compare(String label, Row subject, Row baseline, Function<Row, Estimate> measure, int threads, int cores) {
    return compare(label, subject, baseline, measure, threads, cores, threshold);
  }

  /**
   * A row judging {@code subject}'s value itself against the goal's threshold, in the goal's unit
   * (an absolute goal such as "at most 5 ms"): its "ratio" is the value over 1.
   */
  Goal absolute(String label, Row subject, Function<Row, Estimate> measure) {
    if (subject == null) {
      rows.add(new Judgement(label, null, threshold, Verdict.NO_DATA, "not measured", null, null));
      return this;
    }
    return add(label, Ratio.of(measure.apply(subject), 1.0), 1, 1, threshold, subject, null);
  }

  /** A row from an already computed ratio. */
  Goal add(String label, Ratio ratio, int threads, int cores, Threshold bound, Row subject, Row baseline) {
    if (threads > cores) {
      rows.add(new Judgement(label, ratio, bound, Verdict.REPORTED,
          threads + " threads or processes on " + cores + " cores: measures the scheduler, not judged", subject,
          baseline));
      return this;
    }
    Judgement judged = new Judgement(label, ratio, bound, bound.judge(ratio),
        ratio.hasInterval() ? "" : "fewer than two replicates: no interval", subject, baseline);
    double speedUp = judged.speedUp();
    if (speedUp >= Row.WARMING) {
      // Either side may still move past the threshold: its steady state was not measured.
      judged = new Judgement(label, ratio, bound, Verdict.INCONCLUSIVE, String.format(Locale.ROOT,
          "still warming up: every fork's last iteration ran at least %.2fx faster than its first", speedUp),
          subject, baseline);
    }
    rows.add(judged);
    return this;
  }

  /** The row that decides the verdict: the worst verdict, then the ratio closest to failing. */
  Judgement deciding() {
    return rows.stream().filter(j -> j.verdict() != Verdict.REPORTED)
        .max(Comparator.comparingInt((Judgement j) -> j.verdict().severity())
            .thenComparingDouble(j -> j.ratio() == null ? 0 : margin(j)))
        .orElse(null);
  }

  /** How far a row sits on the failing side of its threshold (log scale; larger is worse). */
  private static double margin(Judgement j) {
    double distance = Math.log(j.ratio().ratio()) - Math.log(j.threshold().value());
    return j.threshold().atLeast() ? -distance : distance;
  }

  Verdict verdict() {
    Judgement d = deciding();
    return d == null ? Verdict.NO_DATA : d.verdict();
  }
}
