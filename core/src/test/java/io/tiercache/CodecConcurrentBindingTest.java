package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;

import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Found by the benchmarks: two threads encoding a type neither had encoded before. The
 * first publishes a placeholder binder while it builds the real one (so that recursive types
 * resolve); the second found the placeholder and used it before it was filled in, and failed with a
 * NullPointerException.
 */
class CodecConcurrentBindingTest {

  /** {@code List<List<...<String>>>}, {@code depth} lists deep: a type no other test has built. */
  record Nested(int depth) implements ParameterizedType {
    @Override
    public Type[] getActualTypeArguments() {
      return new Type[] {depth == 1 ? String.class : new Nested(depth - 1)};
    }

    @Override
    public Type getRawType() {
      return List.class;
    }

    @Override
    public Type getOwnerType() {
      return null;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof ParameterizedType p && p.getRawType() == List.class && p.getOwnerType() == null
          && java.util.Arrays.equals(getActualTypeArguments(), p.getActualTypeArguments());
    }

    @Override
    public int hashCode() {
      return java.util.Arrays.hashCode(getActualTypeArguments()) ^ Objects.hashCode(List.class);
    }
  }

  static Object value(int depth) {
    Object v = "x";
    for (int i = 0; i < depth; i++) {
      v = List.of(v);
    }
    return v;
  }

  @Test
  void twoThreadsEncodingANewTypeAtOnceBothSucceed() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      // Depths no other test uses (and within the codec's 512 levels), so every type here is new to the codec.
      for (int depth = 200; depth < 500; depth++) {
        Type type = new Nested(depth);
        Object value = value(depth);
        CyclicBarrier start = new CyclicBarrier(2);
        List<Future<String>> results = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
          results.add(pool.submit(() -> {
            start.await(10, TimeUnit.SECONDS);
            return new String(Codec.json(type).encode(value), java.nio.charset.StandardCharsets.UTF_8);
          }));
        }
        String expected = "[".repeat(depth) + "\"x\"" + "]".repeat(depth);
        for (Future<String> r : results) {
          assertThat(r.get(30, TimeUnit.SECONDS)).as("depth %d", depth).isEqualTo(expected);
        }
      }
    } finally {
      pool.shutdownNow();
    }
  }
}
