package io.tiercache.jmh.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/** Synthetic JMH JSON result files, shaped as JMH 1.37 writes them. */
final class Jmh {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ArrayNode rows = JSON.createArrayNode();

  /**
   * A non-SampleTime row: one inner array per fork, its iterations' scores. {@code params} are
   * name, value pairs.
   */
  Jmh row(String benchmark, String mode, String unit, int threads, double[][] forks, String... params) {
    ObjectNode r = start(benchmark, mode, threads, forks.length, params);
    ObjectNode m = r.putObject("primaryMetric");
    double sum = 0;
    int n = 0;
    ArrayNode raw = m.putArray("rawData");
    for (double[] fork : forks) {
      ArrayNode f = raw.addArray();
      for (double v : fork) {
        f.add(v);
        sum += v;
        n++;
      }
    }
    m.put("score", sum / n).put("scoreError", 0.0).put("scoreUnit", unit);
    return this;
  }

  /** A SampleTime row: per fork, one iteration whose samples are {@code fork} (each counted once). */
  Jmh sampled(String benchmark, int threads, double[][] forks, String... params) {
    ObjectNode r = start(benchmark, "sample", threads, forks.length, params);
    ObjectNode m = r.putObject("primaryMetric");
    ArrayNode raw = m.putArray("rawDataHistogram");
    double sum = 0;
    int n = 0;
    for (double[] fork : forks) {
      ArrayNode iteration = raw.addArray().addArray();
      for (double v : fork) {
        iteration.addArray().add(v).add(1);
        sum += v;
        n++;
      }
    }
    m.put("score", sum / n).put("scoreError", 0.0).put("scoreUnit", "us/op");
    return this;
  }

  private ObjectNode start(String benchmark, String mode, int threads, int forks, String... params) {
    ObjectNode r = rows.addObject();
    r.put("jmhVersion", "1.37").put("benchmark", "io.tiercache.jmh." + benchmark).put("mode", mode)
        .put("threads", threads).put("forks", forks);
    ObjectNode p = r.putObject("params");
    for (int i = 0; i < params.length; i += 2) {
      p.put(params[i], params[i + 1]);
    }
    return r;
  }

  JsonNode json() {
    return rows;
  }

  static Report report(String mode, int cores, Jmh... files) {
    List<JsonNode> documents = new ArrayList<>();
    for (Jmh f : files) {
      documents.add(f.json());
    }
    return new Report(Results.parse(documents),
        new Environment(mode, "2026-12-01", "abc1234", "test CPU", cores, "1 GiB", "17", "6.1", "not dropped", "0.1"));
  }

  /** {@code n} values spread evenly around {@code mean} by {@code ±spread}. */
  static double[] around(double mean, double spread, int n) {
    double[] v = new double[n];
    for (int i = 0; i < n; i++) {
      v[i] = n == 1 ? mean : mean - spread + 2 * spread * i / (n - 1);
    }
    return v;
  }
}
