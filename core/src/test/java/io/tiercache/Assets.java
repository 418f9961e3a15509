package io.tiercache;

import java.math.BigDecimal;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/** Asset shapes like the Python SDK's: records, plain classes, free-form metadata. */
final class Assets {
  private Assets() {}

  enum Function { TEXT_GENERATION, TRANSLATION }

  record Model(String id, String name, Function function, Map<String, Object> meta, List<String> tags,
      Instant created, BigDecimal price) {
    static Model of(String id) {
      return new Model(id, "model " + id, Function.TEXT_GENERATION,
          Map.of("size", 7L, "ratio", 0.5), List.of("a", "b"), Instant.parse("2025-06-01T12:00:00Z"),
          new BigDecimal("0.0015"));
    }
  }

  /** A plain class with a secret the cache must never write. */
  static final class Agent {
    private String id;
    private String name;
    private transient String apiKey;

    Agent() {}

    Agent(String id, String name, String apiKey) {
      this.id = id;
      this.name = name;
      this.apiKey = apiKey;
    }

    String id() {
      return id;
    }

    String name() {
      return name;
    }

    String apiKey() {
      return apiKey;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Agent && Objects.equals(id, ((Agent) o).id) && Objects.equals(name, ((Agent) o).name);
    }

    @Override
    public int hashCode() {
      return Objects.hash(id, name);
    }
  }

  /** An asset whose id is an integer, as some Python assets have. */
  record Numbered(long id, String label) {}

  /** No id at all. */
  record Anonymous(String label) {}
}
