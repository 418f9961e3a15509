package io.tiercache.jmh.report;

import static io.tiercache.jmh.report.Jmh.around;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The verdict code fed synthetic JMH JSON. Each case is one the previous report (a point ratio
 * from whichever rows happened to be there) decided wrongly; each test also computes what that
 * rule would have said, and shows it differs.
 */
class VerdictTest {

  private static Goal goal(Report report, String prefix) {
    return report.goals().stream().filter(g -> g.name.startsWith(prefix)).findFirst().orElseThrow();
  }

  /** Throughput forks of the front tier, read-only. */
  private static Jmh front(Jmh jmh, String cache, int threads, double... forkMeans) {
    double[][] forks = new double[forkMeans.length][];
    for (int i = 0; i < forkMeans.length; i++) {
      forks[i] = around(forkMeans[i], forkMeans[i] * 0.01, 3);
    }
    return jmh.row("FrontTierBenchmark.read", "thrpt", "ops/us", threads, forks, "cache", cache);
  }

  @Test
  void aStraddlingIntervalIsInconclusiveNotPass() {
    Jmh jmh = new Jmh();
    // tiercache 3.0 and 4.6 ops/us in two forks, Caffeine 3.4 and 3.6: point ratio 1.09, noise ±40%.
    front(jmh, "tiercache", 1, 3.0, 4.6);
    front(jmh, "caffeine", 1, 3.4, 3.6);
    front(jmh, "tiercache", 2, 6.0, 6.1);
    front(jmh, "caffeine", 2, 6.0, 6.1);
    Goal g = goal(Jmh.report("quick", 2, jmh), "front-tier hit");

    Goal.Judgement one = g.rows.get(0);
    assertThat(one.ratio().ratio()).isGreaterThan(0.95); // the old rule: point ratio >= threshold, PASS
    assertThat(one.ratio().low()).isLessThan(0.95);
    assertThat(one.verdict()).isEqualTo(Verdict.INCONCLUSIVE);
    assertThat(one.replicatesToDecide()).isGreaterThan(2);
    assertThat(g.rows.get(1).verdict()).isEqualTo(Verdict.PASS);
    assertThat(g.verdict()).isEqualTo(Verdict.INCONCLUSIVE);
  }

  @Test
  void aWholeIntervalBelowTheThresholdIsMiss() {
    Jmh jmh = new Jmh();
    front(jmh, "tiercache", 1, 2.0, 2.02, 2.01);
    front(jmh, "caffeine", 1, 3.0, 3.03, 3.01);
    front(jmh, "tiercache", 2, 4.0, 4.02, 4.01);
    front(jmh, "caffeine", 2, 4.0, 4.03, 4.01);
    Goal g = goal(Jmh.report("full", 2, jmh), "front-tier hit");
    assertThat(g.rows.get(0).ratio().high()).isLessThan(0.95);
    assertThat(g.verdict()).isEqualTo(Verdict.MISS);
    assertThat(g.deciding().label()).isEqualTo("1 thread");
  }

  @Test
  void aMissingRowIsNoDataNeverSkipped() {
    Jmh jmh = new Jmh();
    // WRITE and the raw append measured at 1k and 100k, and at 1M only tiercache: the old report
    // judged the rows that were there (PASS) and said nothing about 1M.
    for (String n : List.of("1000", "100000")) {
      jmh.sampled("WriteBenchmark.put", 1, new double[][] {around(5, 0.1, 5), around(5.1, 0.1, 5)},
          "target", "tiercache-WRITE-append", "entries", n, "shape", "small");
      jmh.sampled("WriteBenchmark.put", 1, new double[][] {around(4, 0.1, 5), around(4.1, 0.1, 5)},
          "target", "raw-append", "entries", n, "shape", "small");
    }
    jmh.sampled("WriteBenchmark.put", 1, new double[][] {around(5, 0.1, 5), around(5.1, 0.1, 5)},
        "target", "tiercache-WRITE-append", "entries", "1000000", "shape", "small");
    Goal g = goal(Jmh.report("quick", 2, jmh), "add under WRITE <= 1.5x a raw FileChannel append");

    List<Verdict> judged = g.rows.stream().filter(j -> j.ratio() != null).map(Goal.Judgement::verdict)
        .collect(Collectors.toList());
    assertThat(judged).containsOnly(Verdict.PASS); // what the old report printed
    assertThat(g.rows).extracting(Goal.Judgement::label).containsExactly("N=1k", "N=100k", "N=1M");
    assertThat(g.rows.get(2).verdict()).isEqualTo(Verdict.NO_DATA);
    assertThat(g.verdict()).isEqualTo(Verdict.NO_DATA);
  }

  @Test
  void everyGoalIsListedEvenWithNoRowsAtAll() {
    // The old smoke report lost "flat from 1k to 1M" when one size ran; here nothing ran at all.
    Report report = Jmh.report("quick", 2, new Jmh().row("RedisBenchmark.lettuceGet", "avgt", "us/op", 1,
        new double[][] {{90}, {91}}));
    assertThat(report.goals()).hasSize(17);
    assertThat(report.goals()).allSatisfy(g -> assertThat(g.verdict()).isEqualTo(Verdict.NO_DATA));
    assertThat(goal(report, "add under WRITE flat").rows).extracting(Goal.Judgement::label)
        .containsExactly("100k vs 1k", "1M vs 1k");
  }

  @Test
  void groupCommitIsJudgedAtEverySize() {
    Jmh jmh = new Jmh();
    // 1k: 2 threads double the adds/s (same time per add); 100k: 2 threads are slower than one.
    // The old report looked at the first size only, and printed PASS.
    jmh.sampled("WriteBenchmark.put", 1, new double[][] {around(300, 3, 5), around(302, 3, 5)},
        "target", "tiercache-FSYNC", "entries", "1000", "shape", "small");
    jmh.sampled("WriteBenchmark.put", 2, new double[][] {around(300, 3, 5), around(303, 3, 5)},
        "target", "tiercache-FSYNC", "entries", "1000", "shape", "small");
    jmh.sampled("WriteBenchmark.put", 1, new double[][] {around(300, 3, 5), around(301, 3, 5)},
        "target", "tiercache-FSYNC", "entries", "100000", "shape", "small");
    jmh.sampled("WriteBenchmark.put", 2, new double[][] {around(900, 3, 5), around(905, 3, 5)},
        "target", "tiercache-FSYNC", "entries", "100000", "shape", "small");
    Goal g = goal(Jmh.report("full", 2, jmh), "FSYNC group commit");

    Goal.Judgement first = g.rows.stream().filter(j -> j.label().startsWith("N=1k")).findFirst().orElseThrow();
    assertThat(first.verdict()).isEqualTo(Verdict.PASS); // all the old report looked at
    Goal.Judgement large = g.rows.stream().filter(j -> j.label().startsWith("N=100k")).findFirst().orElseThrow();
    assertThat(large.verdict()).isEqualTo(Verdict.MISS);
    assertThat(g.verdict()).isEqualTo(Verdict.MISS);
  }

  @Test
  void theDisksOwnSharingOfFsyncsIsReportedBesideGroupCommit() {
    Jmh jmh = new Jmh();
    for (String target : List.of("tiercache-FSYNC", "raw-append-fsync")) {
      jmh.sampled("WriteBenchmark.put", 1, new double[][] {around(300, 3, 5), around(302, 3, 5)},
          "target", target, "entries", "1000", "shape", "small");
    }
    jmh.sampled("WriteBenchmark.put", 2, new double[][] {around(400, 3, 5), around(402, 3, 5)},
        "target", "tiercache-FSYNC", "entries", "1000", "shape", "small");
    // Two raw writers each take 1.5x one's time per add: together 1.33x the adds/s of one.
    jmh.sampled("WriteBenchmark.put", 2, new double[][] {around(450, 3, 5), around(453, 3, 5)},
        "target", "raw-append-fsync", "entries", "1000", "shape", "small");
    Report report = Jmh.report("quick", 2, jmh);
    assertThat(report.markdown()).contains("raw append + fsync, 2 threads vs 1 (the disk's own sharing), N=1k | mean"
        + " | none | 1.33x");
    assertThat(goal(report, "FSYNC group commit").rows.get(0).ratio().ratio()).isCloseTo(1.5, within(0.01));
  }

  @Test
  void forksRunInRoundsAreOneRowWithEveryRoundsFork() {
    // ./bench runs N forks as N JMH runs of one fork each, one file per round.
    Jmh[] rounds = new Jmh[3];
    double[] tiercache = {2.0, 2.1, 2.05};
    for (int i = 0; i < rounds.length; i++) {
      rounds[i] = new Jmh();
      front(rounds[i], "tiercache", 1, tiercache[i]);
      front(rounds[i], "caffeine", 1, 3.0 + i * 0.02);
    }
    Goal.Judgement one = goal(Jmh.report("quick", 2, rounds), "front-tier hit").rows.get(0);
    assertThat(one.ratio().numerator().replicates()).isEqualTo(3);
    assertThat(one.ratio().denominator().replicates()).isEqualTo(3);
    assertThat(one.ratio().ratio()).isCloseTo(2.05 / 3.02, within(0.001));
    assertThat(one.verdict()).isEqualTo(Verdict.MISS);
  }

  @Test
  void encodingAloneIsReportedAsTheAsyncGoalsFloor() {
    Jmh jmh = new Jmh();
    double[][] us = {{1.5, 1.52}, {12.0, 12.1}, {4.0, 4.04}};
    String[] targets = {"encode", "ehcache-disk", "tiercache-WRITE"};
    for (int t = 0; t < targets.length; t++) {
      jmh.sampled("WriteBenchmark.put", 1, new double[][] {around(us[t][0], 0.01, 5), around(us[t][1], 0.01, 5)},
          "target", targets[t], "entries", "100000", "shape", "small");
    }
    String md = Jmh.report("quick", 2, jmh).markdown();
    assertThat(md).contains("encoding the value alone (every target's first step) vs Ehcache 3 disk put, N=100k (an"
        + " ASYNC goal asks for ASYNC's time <= 0.1x) | mean | none | 0.125x [");
    assertThat(md).contains("encoding the value alone (every target's first step) vs an add under WRITE, N=100k (an"
        + " ASYNC goal asks for ASYNC's time <= 0.333x) | mean | none | 0.376x [");
  }

  @Test
  void threadCountsAboveTheCoresAreReportedNotJudged() {
    Jmh jmh = new Jmh();
    front(jmh, "tiercache", 1, 3.0, 3.01);
    front(jmh, "caffeine", 1, 3.0, 3.01);
    front(jmh, "tiercache", 2, 6.0, 6.01);
    front(jmh, "caffeine", 2, 6.0, 6.01);
    front(jmh, "tiercache", 4, 3.0, 3.01); // 4 threads on 2 cores: far below Caffeine
    front(jmh, "caffeine", 4, 6.0, 6.01);
    Goal g = goal(Jmh.report("full", 2, jmh), "front-tier hit");
    Goal.Judgement four = g.rows.get(2);
    assertThat(four.ratio().high()).isLessThan(0.95); // the old report: worst of all thread counts, MISS
    assertThat(four.verdict()).isEqualTo(Verdict.REPORTED);
    assertThat(g.verdict()).isEqualTo(Verdict.PASS);
    // On a 4-core machine the same row is judged.
    assertThat(goal(Jmh.report("full", 4, jmh), "front-tier hit").verdict()).isEqualTo(Verdict.MISS);
  }

  /** The Chronicle get rows of the quick run of 2026-12-01T21:05Z: every fork still getting faster. */
  private static Jmh chronicle(Jmh jmh, String op, double[][] tiercache, double[][] raw) {
    jmh.row("StoreBenchmark." + op, "avgt", "us/op", 1, tiercache, "entries", "100000", "target",
        "tiercache-chronicle");
    return jmh.row("StoreBenchmark." + op, "avgt", "us/op", 1, raw, "entries", "100000", "target", "raw-chronicle");
  }

  @Test
  void aRowStillWarmingUpIsNotJudged(@TempDir Path dir) throws Exception {
    Jmh jmh = new Jmh();
    chronicle(jmh, "get", new double[][] {{20.82, 16.69, 13.25}, {37.36, 16.85, 10.31}},
        new double[][] {{11.75, 6.35, 3.6}, {9.89, 5.24, 3.39}});
    // Steady: the forks do not agree on a direction, and no fork moves by a quarter.
    chronicle(jmh, "put", new double[][] {{6.0, 6.6, 6.1}, {6.4, 5.6, 6.3}}, new double[][] {{4.0, 3.7, 4.2}, {3.9, 4.1, 3.8}});
    Files.writeString(dir.resolve("store.json"), jmh.json().toString());
    Files.writeString(dir.resolve("env.json"), "{\"mode\":\"quick\",\"cores\":2}");
    Report report = new Report(Results.read(dir), Environment.read(dir));
    Goal g = goal(report, "Chronicle store");

    Goal.Judgement get = g.rows.get(0);
    assertThat(get.threshold().judge(get.ratio())).isEqualTo(Verdict.MISS); // what the report printed then
    assertThat(get.verdict()).isEqualTo(Verdict.INCONCLUSIVE);
    assertThat(get.speedUp()).isGreaterThan(Row.WARMING);
    assertThat(get.replicatesToDecide()).isZero(); // more forks of a warm-up decide nothing
    Goal.Judgement put = g.rows.get(1);
    assertThat(put.speedUp()).isLessThan(Row.WARMING);
    assertThat(put.verdict()).isEqualTo(Verdict.MISS);
    assertThat(g.verdict()).isEqualTo(Verdict.MISS);
    report.write(dir);
    assertThat(Files.readString(dir.resolve("report.md")))
        .contains("get N=100k: 2.87x", "INCONCLUSIVE (still warming up: every fork's last iteration ran at least 2.92x")
        .doesNotContain("forks would decide) (still");
  }

  @Test
  void oneForkGettingFasterIsNotAWarmUp() {
    Jmh jmh = new Jmh();
    // The first fork's throughput rises by half, the second's falls: noise, judged as measured.
    jmh.row("FrontTierBenchmark.read", "thrpt", "ops/us", 1, new double[][] {{2.0, 2.5, 3.0}, {3.0, 2.6, 2.2}},
        "cache", "tiercache");
    front(jmh, "caffeine", 1, 8.0, 8.1);
    Goal.Judgement one = goal(Jmh.report("quick", 2, jmh), "front-tier hit").rows.get(0);
    assertThat(one.subject().speedUp()).isLessThan(1);
    assertThat(one.speedUp()).isLessThan(Row.WARMING);
    assertThat(one.verdict()).isEqualTo(Verdict.MISS);
  }

  @Test
  void aSmokeRunPrintsNoVerdicts(@TempDir Path dir) throws Exception {
    Jmh jmh = new Jmh();
    front(jmh, "tiercache", 1, 2.0, 2.01);
    front(jmh, "caffeine", 1, 3.0, 3.01);
    Files.writeString(dir.resolve("front-t1.json"), jmh.json().toString());
    Files.writeString(dir.resolve("env.json"), "{\"mode\":\"smoke\",\"cores\":2}");
    Report report = new Report(Results.read(dir), Environment.read(dir));
    assertThat(goal(report, "front-tier hit").verdict()).isEqualTo(Verdict.MISS); // computed, not shown
    report.write(dir);
    String md = Files.readString(dir.resolve("report.md"));
    assertThat(md).contains("front-tier hit", "0.667x", "not judged (smoke)");
    assertThat(md).doesNotContain("PASS", "MISS", "INCONCLUSIVE", "NO DATA");
    assertThat(dir.resolve("summary.json")).doesNotExist();
    assertThat(dir.resolve("report.html")).exists();
  }

  @Test
  void summaryHasOneObjectPerGoalWithItsInterval(@TempDir Path dir) throws Exception {
    Jmh jmh = new Jmh();
    front(jmh, "tiercache", 1, 3.0, 4.6);
    front(jmh, "caffeine", 1, 3.4, 3.6);
    Files.writeString(dir.resolve("front-t1.json"), jmh.json().toString());
    Files.writeString(dir.resolve("env.json"), "{\"mode\":\"quick\",\"cores\":2}");
    Report report = new Report(Results.read(dir), Environment.read(dir));
    report.write(dir);
    com.fasterxml.jackson.databind.JsonNode summary = new com.fasterxml.jackson.databind.ObjectMapper()
        .readTree(dir.resolve("summary.json").toFile());
    assertThat(summary.size()).isEqualTo(report.goals().size());
    com.fasterxml.jackson.databind.JsonNode front = summary.get(0);
    assertThat(front.get("goal").asText()).startsWith("front-tier hit");
    assertThat(front.get("statistic").asText()).isEqualTo("mean");
    assertThat(front.get("threshold").asDouble()).isEqualTo(0.95);
    // 2 threads were not measured: the goal is NO DATA, its deciding row says which.
    assertThat(front.get("verdict").asText()).isEqualTo("NO DATA");
    assertThat(front.get("row").asText()).isEqualTo("2 threads");
    for (com.fasterxml.jackson.databind.JsonNode o : summary) {
      assertThat(o.has("ratio") && o.has("low") && o.has("high")).isTrue();
      assertThat(o.get("verdict").asText()).isIn("PASS", "MISS", "INCONCLUSIVE", "NO DATA");
    }
    assertThat(Files.readString(dir.resolve("readme-fragment.md"))).contains("--quick", "| goal | statistic |");
  }
}
