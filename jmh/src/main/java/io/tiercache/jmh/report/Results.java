package io.tiercache.jmh.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/** The rows of one run: every JMH JSON result file in a directory, with their raw data. */
final class Results {
  private static final ObjectMapper JSON = new ObjectMapper();

  final List<Row> rows;

  Results(List<Row> rows) {
    this.rows = rows;
  }

  static Results read(Path dir) throws IOException {
    List<JsonNode> arrays = new ArrayList<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path file : files.filter(p -> p.toString().endsWith(".json")).sorted().collect(Collectors.toList())) {
        arrays.add(JSON.readTree(file.toFile()));
      }
    }
    return parse(arrays);
  }

  /** Rows from parsed JSON documents; documents that are not JMH result arrays are ignored. */
  static Results parse(List<JsonNode> documents) {
    Map<String, Row> merged = new LinkedHashMap<>();
    for (JsonNode root : documents) {
      if (!root.isArray()) {
        continue;
      }
      for (JsonNode r : root) {
        if (!r.has("benchmark") || !r.has("primaryMetric")) {
          continue;
        }
        Map<String, String> params = new LinkedHashMap<>();
        if (r.has("params")) {
          r.get("params").fields().forEachRemaining(e -> params.put(e.getKey(), e.getValue().asText()));
        }
        String name = r.get("benchmark").asText();
        String shortName = name.substring(name.lastIndexOf('.', name.lastIndexOf('.') - 1) + 1);
        String mode = r.get("mode").asText();
        int threads = r.path("threads").asInt(1);
        Map<String, Row> secondary = new LinkedHashMap<>();
        r.path("secondaryMetrics").fields().forEachRemaining(e ->
            secondary.put(e.getKey(), metric(shortName + ":" + e.getKey(), mode, threads, params, e.getValue(), Map.of())));
        Row row = metric(shortName, mode, threads, params, r.get("primaryMetric"), secondary);
        String key = shortName + "|" + mode + "|" + threads + "|" + params;
        merged.merge(key, row, Results::concatenate);
      }
    }
    return new Results(new ArrayList<>(merged.values()));
  }

  private static Row metric(String benchmark, String mode, int threads, Map<String, String> params, JsonNode m,
      Map<String, Row> secondary) {
    List<Row.Fork> forks = new ArrayList<>();
    if (m.has("rawDataHistogram")) {
      for (JsonNode fork : m.get("rawDataHistogram")) {
        List<double[][]> histograms = new ArrayList<>();
        List<Double> means = new ArrayList<>();
        for (JsonNode iteration : fork) {
          double[][] pairs = new double[iteration.size()][];
          double sum = 0;
          long count = 0;
          for (int i = 0; i < iteration.size(); i++) {
            pairs[i] = new double[] {iteration.get(i).get(0).asDouble(), iteration.get(i).get(1).asDouble()};
            sum += pairs[i][0] * pairs[i][1];
            count += (long) pairs[i][1];
          }
          histograms.add(pairs);
          means.add(count == 0 ? Double.NaN : sum / count);
        }
        forks.add(new Row.Fork(means.stream().mapToDouble(Double::doubleValue).toArray(), histograms));
      }
    } else if (m.has("rawData")) {
      for (JsonNode fork : m.get("rawData")) {
        double[] scores = new double[fork.size()];
        for (int i = 0; i < scores.length; i++) {
          scores[i] = fork.get(i).asDouble();
        }
        forks.add(new Row.Fork(scores, List.of()));
      }
    } else {
      forks.add(new Row.Fork(new double[] {m.get("score").asDouble()}, List.of()));
    }
    return new Row(benchmark, mode, threads, params, m.path("scoreUnit").asText(""), m.get("score").asDouble(),
        m.path("scoreError").asDouble(Double.NaN), forks, secondary);
  }

  /** One row from two runs of the same configuration: the forks of both. */
  private static Row concatenate(Row a, Row b) {
    List<Row.Fork> forks = new ArrayList<>(a.forks());
    forks.addAll(b.forks());
    Map<String, Row> secondary = new LinkedHashMap<>(a.secondary());
    b.secondary().forEach((k, v) -> secondary.merge(k, v, Results::concatenate));
    double score = (a.score() * a.forks().size() + b.score() * b.forks().size()) / forks.size();
    return new Row(a.benchmark(), a.mode(), a.threads(), a.params(), a.unit(), score, Double.NaN, forks, secondary);
  }

  List<Row> select(String benchmark, Predicate<Row> filter) {
    return rows.stream().filter(r -> r.benchmark().equals(benchmark)).filter(filter).collect(Collectors.toList());
  }

  /** The one row of {@code benchmark} matching {@code filter}, or null when this run did not measure it. */
  Row find(String benchmark, Predicate<Row> filter) {
    List<Row> found = select(benchmark, filter);
    return found.isEmpty() ? null : found.get(0);
  }

  boolean any(String benchmark) {
    return rows.stream().anyMatch(r -> r.benchmark().equals(benchmark));
  }
}
