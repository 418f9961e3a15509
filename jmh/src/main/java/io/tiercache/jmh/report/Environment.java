package io.tiercache.jmh.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where and how a run was made, from the {@code env.json} that {@code ./bench} writes beside the
 * results; what it lacks is taken from the machine the report runs on, and said so.
 *
 * @param mode {@code smoke}, {@code quick} or {@code full}
 * @param cores the processors the benchmarks could use: rows with more threads are not judged
 * @param pageCache whether the cold start could drop the page cache, and how
 * @param load the load averages (1, 5, 15 minutes) when the run started: how busy the machine was
 */
record Environment(String mode, String date, String commit, String cpu, int cores, String memory, String jdk,
    String kernel, String pageCache, String load) {

  boolean smoke() {
    return mode.equals("smoke");
  }

  static Environment read(Path dir) throws IOException {
    Path file = dir.resolve("env.json");
    JsonNode env = Files.exists(file) ? new ObjectMapper().readTree(file.toFile()) : new ObjectMapper().createObjectNode();
    return new Environment(env.path("mode").asText("unknown"), env.path("date").asText("unknown"),
        env.path("commit").asText("unknown"), env.path("cpu").asText("unknown"),
        env.path("cores").asInt(Runtime.getRuntime().availableProcessors()), env.path("memory").asText("unknown"),
        env.path("jdk").asText(System.getProperty("java.version")),
        env.path("kernel").asText(System.getProperty("os.version")), env.path("pageCache").asText("unknown"),
        env.path("load").asText("unknown"));
  }
}
