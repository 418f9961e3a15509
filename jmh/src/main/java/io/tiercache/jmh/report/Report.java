package io.tiercache.jmh.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.Styler;

/**
 * Turns one run's JMH JSON files into the report: ratio tables on standard output and in
 * {@code report.md}, charts in {@code report.png}, both in {@code report.html}. Each goal of the
 * README is printed as PASS or MISS from the numbers of this run only; a missing measurement is
 * reported as such, never guessed.
 *
 * <pre>{@code java -cp jmh/target/benchmarks.jar io.tiercache.jmh.report.Report bench-results/<run>}</pre>
 */
public final class Report {
  /** One JMH result row, flattened. */
  record Row(String benchmark, String mode, int threads, Map<String, String> params, double score,
      double error, String unit, Map<String, Double> percentiles) {
    String param(String name) {
      return params.getOrDefault(name, "");
    }

    /**
     * Operations per second over all threads: JMH's throughput is already a total, while its
     * time modes report the mean time of one thread's operation.
     */
    double opsPerSecond() {
      switch (unit) {
        case "ops/us": return score * 1e6;
        case "ops/ms": return score * 1e3;
        case "ops/s": return score;
        case "us/op": return threads * 1e6 / score;
        case "ms/op": return threads * 1e3 / score;
        default: throw new IllegalStateException("unit " + unit);
      }
    }

    double millis() {
      switch (unit) {
        case "ms/op": return score;
        case "us/op": return score / 1e3;
        case "s/op": return score * 1e3;
        default: throw new IllegalStateException("unit " + unit);
      }
    }
  }

  private final List<Row> rows;
  private final StringBuilder md = new StringBuilder();
  private final List<String[]> goals = new ArrayList<>();

  Report(List<Row> rows) {
    this.rows = rows;
  }

  public static void main(String[] args) throws IOException {
    if (args.length != 1) {
      System.err.println("usage: Report <directory with JMH JSON results>");
      System.exit(2);
    }
    Path dir = Path.of(args[0]);
    List<Row> rows = read(dir);
    if (rows.isEmpty()) {
      System.err.println("no JMH results in " + dir);
      System.exit(1);
    }
    Report report = new Report(rows);
    report.build(dir);
  }

  static List<Row> read(Path dir) throws IOException {
    ObjectMapper mapper = new ObjectMapper();
    List<Row> rows = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.filter(p -> p.toString().endsWith(".json")).sorted().collect(Collectors.toList())) {
        JsonNode root = mapper.readTree(file.toFile());
        if (!root.isArray()) {
          continue;
        }
        for (JsonNode r : root) {
          Map<String, String> params = new LinkedHashMap<>();
          if (r.has("params")) {
            r.get("params").fields().forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
          }
          JsonNode metric = r.get("primaryMetric");
          Map<String, Double> percentiles = new LinkedHashMap<>();
          if (metric.has("scorePercentiles")) {
            metric.get("scorePercentiles").fields().forEachRemaining(e -> percentiles.put(e.getKey(), e.getValue().asDouble()));
          }
          String name = r.get("benchmark").asText();
          rows.add(new Row(name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1), r.get("mode").asText(),
              r.get("threads").asInt(), params, metric.get("score").asDouble(),
              metric.get("scoreError").asDouble(Double.NaN), metric.get("scoreUnit").asText(), percentiles));
        }
      }
    }
    return rows;
  }

  private List<Row> select(String benchmark, Predicate<Row> filter) {
    return rows.stream().filter(r -> r.benchmark().startsWith(benchmark)).filter(filter).collect(Collectors.toList());
  }

  private Row one(String benchmark, Predicate<Row> filter) {
    List<Row> found = select(benchmark, filter);
    return found.isEmpty() ? null : found.get(0);
  }

  void build(Path dir) throws IOException {
    md.append("# tiercache benchmark report\n\n");
    List<Chart<?, ?>> charts = new ArrayList<>();
    frontTier(charts);
    writes(charts);
    coldStart(charts);
    compaction();
    chronicleStore();
    redisStore();
    multiProcess();
    md.append("\n## Goals\n\n| goal | measured | verdict |\n| --- | --- | --- |\n");
    for (String[] g : goals) {
      md.append("| ").append(g[0]).append(" | ").append(g[1]).append(" | ").append(g[2]).append(" |\n");
    }
    String text = md.toString();
    System.out.println(text);
    Files.writeString(dir.resolve("report.md"), text, StandardCharsets.UTF_8);
    if (!charts.isEmpty()) {
      // One column: XChart merges exactly rows x columns charts.
      BitmapEncoder.saveBitmap(new ArrayList<>(charts), charts.size(), 1,
          dir.resolve("report").toString(), BitmapEncoder.BitmapFormat.PNG);
    }
    Files.writeString(dir.resolve("report.html"), html(text, !charts.isEmpty()), StandardCharsets.UTF_8);
    System.out.println("report: " + dir.resolve("report.html") + ", " + dir.resolve("report.png"));
  }

  private void goal(String what, String measured, boolean pass) {
    goals.add(new String[] {what, measured, pass ? "PASS" : "**MISS**"});
  }

  private void missing(String what) {
    goals.add(new String[] {what, "not measured in this run", "n/a"});
  }

  // ---------------------------------------------------------------- front tier

  private void frontTier(List<Chart<?, ?>> charts) {
    List<Row> front = select("FrontTierBenchmark", r -> true);
    if (front.isEmpty()) {
      missing("front-tier hit >= 0.9x raw Caffeine");
      return;
    }
    md.append("## Front tier: operations per microsecond (Zipfian keys, 10k entries)\n\n")
        .append("| reads | threads | tiercache | Caffeine | ConcurrentHashMap | Ehcache heap | tiercache / Caffeine | tiercache / Ehcache |\n")
        .append("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    TreeSet<Integer> threads = front.stream().map(Row::threads).collect(Collectors.toCollection(TreeSet::new));
    List<String> reads = front.stream().map(r -> r.param("readPercent")).distinct()
        .sorted(Comparator.comparing((String v) -> Integer.valueOf(v)).reversed()).collect(Collectors.toList());
    double worstHit = Double.MAX_VALUE;
    for (String read : reads) {
      for (int t : threads) {
        Map<String, Double> score = new LinkedHashMap<>();
        for (String impl : List.of("tiercache", "caffeine", "concurrentHashMap", "ehcache")) {
          Row r = one("FrontTierBenchmark", x -> x.threads() == t && x.param("readPercent").equals(read)
              && x.param("cache").equals(impl));
          score.put(impl, r == null ? Double.NaN : r.score());
        }
        double vsCaffeine = score.get("tiercache") / score.get("caffeine");
        double vsEhcache = score.get("tiercache") / score.get("ehcache");
        if (read.equals("100") && !Double.isNaN(vsCaffeine)) {
          worstHit = Math.min(worstHit, vsCaffeine);
        }
        md.append(String.format(Locale.ROOT, "| %s%% | %d | %.2f | %.2f | %.2f | %.2f | %.2fx | %.2fx |%n", read, t,
            score.get("tiercache"), score.get("caffeine"), score.get("concurrentHashMap"), score.get("ehcache"),
            vsCaffeine, vsEhcache));
      }
    }
    md.append("\nMixed rows include tiercache's persistent writes (ASYNC journal appends); the peers persist nothing.\n\n");
    if (worstHit == Double.MAX_VALUE) {
      missing("front-tier hit >= 0.9x raw Caffeine");
    } else {
      goal("front-tier hit (100% reads) >= 0.9x raw Caffeine at every thread count",
          String.format(Locale.ROOT, "worst %.2fx", worstHit), worstHit >= 0.9);
    }
    String read = reads.contains("100") ? "100" : reads.get(0);
    CategoryChart chart = chart("Front tier, " + read + "% reads", "threads", "ops/us");
    for (String impl : List.of("tiercache", "caffeine", "concurrentHashMap", "ehcache")) {
      List<String> x = new ArrayList<>();
      List<Double> y = new ArrayList<>();
      for (int t : threads) {
        Row r = one("FrontTierBenchmark", v -> v.threads() == t && v.param("readPercent").equals(read)
            && v.param("cache").equals(impl));
        if (r != null) {
          x.add(Integer.toString(t));
          y.add(r.score());
        }
      }
      if (!x.isEmpty()) {
        chart.addSeries(impl, x, y);
      }
    }
    charts.add(chart);
  }

  // ---------------------------------------------------------------- writes

  private void writes(List<Chart<?, ?>> charts) {
    List<Row> writes = select("WriteBenchmark", r -> true);
    if (writes.isEmpty()) {
      missing("add under WRITE within 2x of a raw append");
      return;
    }
    md.append("## Durable writes: replacing one asset in a cache of N (SampleTime)\n\n")
        .append("| N | target | threads | ops/s | p50 us | p99 us | p99.9 us |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    List<String> sizes = writes.stream().map(r -> r.param("entries")).distinct()
        .sorted(Comparator.comparing(Integer::valueOf)).collect(Collectors.toList());
    for (String n : sizes) {
      for (Row r : select("WriteBenchmark", x -> x.param("entries").equals(n))) {
        md.append(String.format(Locale.ROOT, "| %s | %s | %d | %,.0f | %.1f | %.1f | %.1f |%n", n, r.param("target"),
            r.threads(), r.opsPerSecond(), r.percentiles().getOrDefault("50.0", Double.NaN),
            r.percentiles().getOrDefault("99.0", Double.NaN), r.percentiles().getOrDefault("99.9", Double.NaN)));
      }
    }
    md.append('\n');
    Map<String, Double> write = opsByEntries("tiercache-WRITE", 1);
    Map<String, Double> async = opsByEntries("tiercache-ASYNC", 1);
    Map<String, Double> raw = opsByEntries("raw-append", 1);
    Map<String, Double> ehcache = opsByEntries("ehcache-disk", 1);
    Map<String, Double> chronicle = opsByEntries("chronicle", 1);
    md.append("| N | WRITE / raw append (time) | WRITE vs Ehcache disk | ASYNC vs Ehcache disk | WRITE vs raw Chronicle Map |\n")
        .append("| --- | --- | --- | --- | --- |\n");
    double worstRaw = 0;
    double worstEhcache = Double.MAX_VALUE;
    double worstAsync = Double.MAX_VALUE;
    for (String n : sizes) {
      double slowdown = raw.getOrDefault(n, Double.NaN) / write.getOrDefault(n, Double.NaN);
      double vsEhcache = write.getOrDefault(n, Double.NaN) / ehcache.getOrDefault(n, Double.NaN);
      double asyncVsEhcache = async.getOrDefault(n, Double.NaN) / ehcache.getOrDefault(n, Double.NaN);
      double vsChronicle = write.getOrDefault(n, Double.NaN) / chronicle.getOrDefault(n, Double.NaN);
      md.append(String.format(Locale.ROOT, "| %s | %.2fx | %.2fx | %.2fx | %.2fx |%n", n, slowdown, vsEhcache,
          asyncVsEhcache, vsChronicle));
      if (!Double.isNaN(slowdown)) {
        worstRaw = Math.max(worstRaw, slowdown);
      }
      if (!Double.isNaN(vsEhcache)) {
        worstEhcache = Math.min(worstEhcache, vsEhcache);
      }
      if (!Double.isNaN(asyncVsEhcache)) {
        worstAsync = Math.min(worstAsync, asyncVsEhcache);
      }
    }
    md.append('\n');
    if (worstRaw > 0) {
      goal("add under WRITE within 2x of a raw FileChannel append", String.format(Locale.ROOT, "worst %.2fx", worstRaw),
          worstRaw <= 2);
    } else {
      missing("add under WRITE within 2x of a raw FileChannel append");
    }
    if (worstEhcache != Double.MAX_VALUE) {
      goal("add under WRITE >= 2x Ehcache 3 disk put", String.format(Locale.ROOT, "worst %.2fx", worstEhcache),
          worstEhcache >= 2);
    }
    if (worstAsync != Double.MAX_VALUE) {
      goal("add under ASYNC >= 10x Ehcache 3 disk put", String.format(Locale.ROOT, "worst %.2fx", worstAsync),
          worstAsync >= 10);
    }
    if (write.size() >= 2) {
      String small = sizes.get(0);
      String large = sizes.get(sizes.size() - 1);
      double flat = write.get(small) / write.get(large);
      goal("add under WRITE flat from " + small + " to " + large + " entries (within 2x)",
          String.format(Locale.ROOT, "%.2fx slower at %s", flat, large), flat <= 2);
    }
    Map<String, Double> fsync1 = opsByEntries("tiercache-FSYNC", 1);
    Map<String, Double> fsync4 = opsByEntries("tiercache-FSYNC", 4);
    String both = fsync4.keySet().stream().filter(fsync1::containsKey).findFirst().orElse(null);
    if (both != null) {
      goal("FSYNC with 4 threads: more adds/s than 1 writer (group commit)", String.format(Locale.ROOT,
          "%,.0f vs %,.0f adds/s", fsync4.get(both), fsync1.get(both)), fsync4.get(both) > fsync1.get(both));
    } else {
      missing("FSYNC with 4 threads: more adds/s than 1 writer");
    }
    String n = sizes.contains("100000") ? "100000" : sizes.get(sizes.size() - 1);
    CategoryChart chart = chart("Write latency, N = " + n, "percentile", "us (log)");
    logarithmic(chart, 0.1);
    for (Row r : select("WriteBenchmark", x -> x.param("entries").equals(n) && x.threads() == 1)) {
      List<Double> values = Stream.of("50.0", "99.0", "99.9").map(p -> r.percentiles().get(p)).collect(Collectors.toList());
      if (values.stream().allMatch(v -> v != null && v > 0)) { // a log axis takes positive values only
        chart.addSeries(r.param("target"), List.of("p50", "p99", "p99.9"), values);
      }
    }
    charts.add(chart);
  }

  private Map<String, Double> opsByEntries(String target, int threads) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (Row r : select("WriteBenchmark", x -> x.param("target").equals(target) && x.threads() == threads)) {
      out.put(r.param("entries"), r.opsPerSecond());
    }
    return out;
  }

  // ---------------------------------------------------------------- cold start and compaction

  private void coldStart(List<Chart<?, ?>> charts) {
    List<Row> cold = select("ColdStartBenchmark", r -> true);
    if (cold.isEmpty()) {
      missing("cold start faster than raw jsoniter parsing");
      return;
    }
    md.append("## Cold start: file on disk to the first asset (ms)\n\n")
        .append("| N | tiercache | jsoniter parse | Jackson parse | Ehcache reopen | tiercache / jsoniter | tiercache / Ehcache |\n")
        .append("| --- | --- | --- | --- | --- | --- | --- |\n");
    List<String> sizes = cold.stream().map(r -> r.param("entries")).distinct()
        .sorted(Comparator.comparing(Integer::valueOf)).collect(Collectors.toList());
    CategoryChart chart = chart("Cold start", "entries", "ms (log)");
    logarithmic(chart, 1);
    Map<String, List<Double>> series = new LinkedHashMap<>();
    for (String n : sizes) {
      Map<String, Double> ms = new LinkedHashMap<>();
      for (String reader : List.of("tiercache", "jsoniter", "jackson", "ehcache")) {
        Row r = one("ColdStartBenchmark", x -> x.param("entries").equals(n) && x.param("reader").equals(reader));
        ms.put(reader, r == null ? Double.NaN : r.millis());
        series.computeIfAbsent(reader, k -> new ArrayList<>()).add(r == null ? Double.NaN : r.millis());
      }
      double vsJsoniter = ms.get("tiercache") / ms.get("jsoniter");
      double vsEhcache = ms.get("tiercache") / ms.get("ehcache");
      md.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.1f | %.1f | %.2fx | %.2fx |%n", n,
          ms.get("tiercache"), ms.get("jsoniter"), ms.get("jackson"), ms.get("ehcache"), vsJsoniter, vsEhcache));
      if (n.equals(sizes.get(sizes.size() - 1))) {
        goal("cold start of " + n + " entries faster than raw jsoniter parsing",
            String.format(Locale.ROOT, "%.2fx of jsoniter's time", vsJsoniter), vsJsoniter < 1);
        if (!Double.isNaN(vsEhcache)) {
          goal("cold start of " + n + " entries faster than Ehcache 3 reopening",
              String.format(Locale.ROOT, "%.2fx of Ehcache's time", vsEhcache), vsEhcache < 1);
        }
      }
    }
    md.append('\n');
    series.forEach((reader, values) -> {
      if (values.stream().allMatch(v -> v > 0)) { // NaN (not measured) fails too: leave the series out
        chart.addSeries(reader, sizes, values);
      }
    });
    charts.add(chart);
  }

  private void compaction() {
    List<Row> rows = select("CompactionBenchmark", r -> true);
    if (rows.isEmpty()) {
      return;
    }
    md.append("## Compaction: a durable snapshot of N assets (ms)\n\n| N | tiercache flush | jsoniter encode + write | ratio |\n| --- | --- | --- | --- |\n");
    rows.stream().map(r -> r.param("entries")).distinct().sorted(Comparator.comparing(Integer::valueOf)).forEach(n -> {
      Row t = one("CompactionBenchmark", x -> x.param("entries").equals(n) && x.param("writer").equals("tiercache"));
      Row j = one("CompactionBenchmark", x -> x.param("entries").equals(n) && x.param("writer").equals("jsoniter"));
      double tm = t == null ? Double.NaN : t.millis();
      double jm = j == null ? Double.NaN : j.millis();
      md.append(String.format(Locale.ROOT, "| %s | %.1f | %.1f | %.2fx |%n", n, tm, jm, tm / jm));
    });
    md.append('\n');
  }

  private void chronicleStore() {
    List<Row> rows = select("ChronicleStoreBenchmark", r -> true);
    if (rows.isEmpty()) {
      missing("Chronicle store get/put within 1.25x of raw Chronicle Map");
      return;
    }
    md.append("## Chronicle Map store: one get or put among N assets (us/op, uniform keys)\n\n")
        .append("| N | op | tiercache Chronicle store | raw Chronicle Map (+ codec) | tiercache JSON store |")
        .append(" Chronicle store / raw | Chronicle store / JSON store |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    double worst = 0;
    for (String n : rows.stream().map(r -> r.param("entries")).distinct()
        .sorted(Comparator.comparing(Integer::valueOf)).collect(Collectors.toList())) {
      for (String op : List.of("get", "put")) {
        Map<String, Double> us = new LinkedHashMap<>();
        for (String target : List.of("tiercache-chronicle", "raw-chronicle", "tiercache-json")) {
          Row r = one("ChronicleStoreBenchmark", x -> x.benchmark().endsWith("." + op)
              && x.param("entries").equals(n) && x.param("target").equals(target));
          us.put(target, r == null ? Double.NaN : r.score());
        }
        double vsRaw = us.get("tiercache-chronicle") / us.get("raw-chronicle");
        double vsJson = us.get("tiercache-chronicle") / us.get("tiercache-json");
        worst = Math.max(worst, Double.isNaN(vsRaw) ? Double.POSITIVE_INFINITY : vsRaw);
        md.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %.2f | %.2f | %.2fx | %.2fx |%n", n, op,
            us.get("tiercache-chronicle"), us.get("raw-chronicle"), us.get("tiercache-json"), vsRaw, vsJson));
      }
    }
    md.append('\n');
    goal("Chronicle store get/put within 1.25x of raw Chronicle Map", String.format(Locale.ROOT, "worst %.2fx", worst),
        worst <= 1.25);
  }

  private void redisStore() {
    Row near = one("RedisBenchmark.nearCacheHit", r -> true);
    Row caffeine = one("RedisBenchmark.caffeineHit", r -> true);
    Row miss = one("RedisBenchmark.redisMiss", r -> true);
    Row lettuce = one("RedisBenchmark.lettuceGet", r -> true);
    if (near == null && miss == null) {
      return;
    }
    md.append("## Redis store, on a local redis-server\n\n| operation | tiercache Redis store | raw library | ratio |\n")
        .append("| --- | --- | --- | --- |\n");
    if (near != null && caffeine != null) {
      md.append(String.format(Locale.ROOT, "| near-cache hit (ops/us, higher is better) | %.2f | Caffeine %.2f | %.2fx |%n",
          near.score(), caffeine.score(), near.score() / caffeine.score()));
    }
    if (miss != null && lettuce != null) {
      md.append(String.format(Locale.ROOT, "| front-tier miss read from Redis (us/op) | %.1f | Lettuce GET %.1f | %.2fx |%n",
          miss.score(), lettuce.score(), miss.score() / lettuce.score()));
    }
    md.append('\n');
  }

  /** Bars start at the axis minimum, which a log axis needs above zero. */
  private static void logarithmic(CategoryChart chart, double min) {
    chart.getStyler().setYAxisLogarithmic(true);
    chart.getStyler().setYAxisMin(min);
  }

  private void multiProcess() {
    List<Row> runs = select("MultiProcess", r -> true);
    if (runs.isEmpty()) {
      return;
    }
    md.append("## Many processes adding to one cache (WRITE, distinct ids)\n\n| processes | adds/s, all processes | lost |\n| --- | --- | --- |\n");
    runs.stream().sorted(Comparator.comparing(r -> Integer.valueOf(r.param("processes")))).forEach(r ->
        md.append(String.format(Locale.ROOT, "| %s | %,.0f | %s |%n", r.param("processes"), r.score(), r.param("lost"))));
    md.append('\n');
  }

  private static CategoryChart chart(String title, String x, String y) {
    CategoryChart chart = new CategoryChartBuilder().width(820).height(380).title(title).xAxisTitle(x).yAxisTitle(y).build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
    chart.getStyler().setChartBackgroundColor(Color.WHITE);
    chart.getStyler().setSeriesColors(new Color[] {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
        new Color(0xd62728), new Color(0x9467bd), new Color(0x8c564b)});
    return chart;
  }

  // ---------------------------------------------------------------- HTML

  private static String html(String markdown, boolean withChart) {
    StringBuilder body = new StringBuilder();
    boolean inTable = false;
    for (String line : markdown.split("\n")) {
      if (line.startsWith("|")) {
        if (line.startsWith("| ---")) {
          continue;
        }
        String[] cells = line.substring(1, line.length() - 1).split("\\|");
        body.append(inTable ? "<tr>" : "<table><tr>");
        for (String cell : cells) {
          String c = escape(cell.strip()).replace("**MISS**", "<b class=miss>MISS</b>").replace("PASS", "<b class=pass>PASS</b>");
          body.append(inTable ? "<td>" : "<th>").append(c).append(inTable ? "</td>" : "</th>");
        }
        body.append("</tr>\n");
        inTable = true;
        continue;
      }
      if (inTable) {
        body.append("</table>\n");
        inTable = false;
      }
      if (line.startsWith("# ")) {
        body.append("<h1>").append(escape(line.substring(2))).append("</h1>\n");
        if (withChart) {
          body.append("<img src=\"report.png\" alt=\"charts\">\n");
        }
      } else if (line.startsWith("## ")) {
        body.append("<h2>").append(escape(line.substring(3))).append("</h2>\n");
      } else if (!line.isBlank()) {
        body.append("<p>").append(escape(line)).append("</p>\n");
      }
    }
    if (inTable) {
      body.append("</table>\n");
    }
    return "<!doctype html><html><head><meta charset=utf-8><title>tiercache benchmarks</title><style>"
        + "body{font-family:sans-serif;margin:2em;max-width:1300px}table{border-collapse:collapse;margin:1em 0}"
        + "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#f0f0f0}"
        + ".pass{color:#080}.miss{color:#c00}img{max-width:100%;border:1px solid #ddd}</style></head><body>\n"
        + body + "</body></html>\n";
  }

  private static String escape(String s) {
    return Objects.requireNonNull(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
  }
}
