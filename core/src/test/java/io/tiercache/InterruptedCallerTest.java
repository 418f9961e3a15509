package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.Assets.Model;
import java.nio.channels.ClosedByInterruptException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Callers whose threads are interrupted ({@code Future.cancel(true)}, an executor's {@code shutdownNow}):
 * a {@code FileChannel} closes itself, for every thread, when a thread makes a call with its interrupt
 * status set or is interrupted inside one. One cancelled task must not break the store for the others,
 * fail its own calls or lose an acknowledged write; its interrupt status stays set for it to see.
 */
class InterruptedCallerTest {
  @TempDir Path dir;

  static Stream<Arguments> stores() {
    return Stream.of(Arguments.of("json", Durability.WRITE), Arguments.of("json", Durability.FSYNC),
        Arguments.of("chronicle", Durability.WRITE), Arguments.of("chronicle", Durability.FSYNC));
  }

  private TieredCacheBuilder<String, Model> builder(String store, Durability durability) {
    // A front tier of two: reads come from the store's files.
    TieredCacheBuilder<String, Model> b = TieredCache.builder(String.class, Model.class).directory(dir)
        .name("models").maximumSize(2).refreshInterval(Duration.ZERO).durability(durability);
    return store.equals("chronicle") ? b.store(StoreSpec.chronicleMap(20_000, 256)) : b;
  }

  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("stores")
  void callsMadeWithTheInterruptStatusSetSucceedKeepItAndBreakNothingForOthers(String store, Durability durability)
      throws Exception {
    TieredCacheBuilder<String, Model> b = builder(store, durability);
    try (TieredCache<String, Model> cache = b.build(); TieredCache<String, Model> other = b.build()) {
      for (int i = 0; i < 20; i++) {
        cache.put("a" + i, Model.of("a" + i));
      }
      cache.flush();
      for (int i = 0; i < 20; i++) {
        other.put("b" + i, Model.of("b" + i)); // another open's writes: the interrupted thread reads them in
      }
      if (store.equals("json")) { // the Python SDK's save of its view plus one asset: a sync merges it
        Path export = dir.resolve("models.json");
        String py = new String(Codec.json(Model.class).encode(Model.of("py")), UTF_8);
        Files.writeString(export, Files.readString(export).replace("\"data\": {", "\"data\": {\"py\": " + py + ", ")
            .replaceFirst(",\\s*\"tiercache\": \\{[^}]*}", "")); // the SDK keeps expiry and data only
      }
      List<String> lostTheirStatus = new ArrayList<>();
      inAnInterruptedThread(() -> {
        Runnable[] calls = {
            () -> cache.sync(),
            () -> assertThat(cache.getIfPresent("b7")).isEqualTo(Model.of("b7")),
            () -> assertThat(cache.getIfPresent("py")).isEqualTo(store.equals("json") ? Model.of("py") : null),
            () -> assertThat(cache.getIfPresent("a3")).isEqualTo(Model.of("a3")),
            () -> cache.put("c", Model.of("c")),
            () -> cache.invalidate("a0"),
            () -> cache.flush()};
        for (int i = 0; i < calls.length; i++) {
          calls[i].run();
          if (!Thread.currentThread().isInterrupted()) {
            lostTheirStatus.add("call " + i);
            Thread.currentThread().interrupt();
          }
        }
      });
      assertThat(lostTheirStatus).as("calls after which the thread's interrupt status was gone").isEmpty();

      // Another thread, never interrupted, goes on using both opens.
      other.put("d", Model.of("d"));
      cache.sync();
      assertThat(cache.getIfPresent("d")).isEqualTo(Model.of("d"));
      assertThat(other.getIfPresent("c")).isEqualTo(Model.of("c"));
      cache.flush();
    }
    AtomicReference<TieredCache<String, Model>> opened = new AtomicReference<>();
    inAnInterruptedThread(() -> opened.set(b.build()));
    try (TieredCache<String, Model> reopened = opened.get()) {
      for (int i = 0; i < 20; i++) {
        assertThat(reopened.getIfPresent("a" + i)).as("a%d", i).isEqualTo(i == 0 ? null : Model.of("a" + i));
        assertThat(reopened.getIfPresent("b" + i)).as("b%d", i).isEqualTo(Model.of("b" + i));
      }
      assertThat(reopened.getIfPresent("c")).isEqualTo(Model.of("c"));
      assertThat(reopened.getIfPresent("d")).isEqualTo(Model.of("d"));
      assertThat(reopened.getIfPresent("py")).isEqualTo(store.equals("json") ? Model.of("py") : null);

      Map<String, Model> replacement = new LinkedHashMap<>();
      for (int i = 0; i < 5; i++) {
        replacement.put("r" + i, Model.of("r" + i));
      }
      inAnInterruptedThread(() -> reopened.replaceAll(replacement));
      reopened.put("after", Model.of("after"));
    }
    try (TieredCache<String, Model> reopened = b.build()) {
      assertThat(reopened.getIfPresent("b7")).as("replaced").isNull();
      for (int i = 0; i < 5; i++) {
        assertThat(reopened.getIfPresent("r" + i)).isEqualTo(Model.of("r" + i));
      }
      assertThat(reopened.getIfPresent("after")).isEqualTo(Model.of("after"));
    }
  }

  /**
   * Interrupts landing inside calls, every 200 us: a put is never failed by one (its write and force go
   * through descriptors); a compaction they hit may fail (its own files are channels) and loses nothing.
   */
  @ParameterizedTest(name = "{0} {1}")
  @MethodSource("stores")
  void interruptsDuringCallsLoseNoAcknowledgedWriteAndBreakNothing(String store, Durability durability)
      throws Exception {
    TieredCacheBuilder<String, Model> b = builder(store, durability);
    Queue<String> acknowledged = new ConcurrentLinkedQueue<>();
    Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
    int[] interruptedDuringAPut = {0};
    int[] puts = {0};
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    try (TieredCache<String, Model> cache = b.build()) {
      Thread writer = new Thread(() -> {
        // Until 200 interrupts landed in puts, and at least 600 puts: however fast either thread runs.
        for (int i = 0; (i < 600 || interruptedDuringAPut[0] < 200) && System.nanoTime() < deadline; i++) {
          puts[0]++;
          Thread.interrupted(); // so that the next interrupt lands during a call, or just before one
          String key = "k" + i;
          try {
            cache.put(key, Model.of(key));
            acknowledged.add(key);
            if (Thread.currentThread().isInterrupted()) {
              interruptedDuringAPut[0]++;
            }
            if (i % 200 == 199) {
              cache.flush();
            }
          } catch (RuntimeException e) {
            failures.add(e);
          }
        }
      });
      writer.start();
      while (writer.isAlive()) {
        writer.interrupt();
        LockSupport.parkNanos(200_000);
      }
      writer.join();
      assertThat(interruptedDuringAPut[0]).as("puts an interrupt landed in").isGreaterThanOrEqualTo(200);
      for (Throwable f : failures) {
        assertThat(f).as("only a compaction that an interrupt hit inside a channel's call may fail")
            .isInstanceOf(CacheException.class).hasRootCauseInstanceOf(ClosedByInterruptException.class)
            .hasStackTraceContaining(".flush(");
      }
      cache.put("after", Model.of("after"));
      cache.flush();
    }
    try (TieredCache<String, Model> reopened = b.build()) {
      assertThat(acknowledged).hasSize(puts[0]);
      for (String key : acknowledged) {
        assertThat(reopened.getIfPresent(key)).as(key).isEqualTo(Model.of(key));
      }
      assertThat(reopened.getIfPresent("after")).isEqualTo(Model.of("after"));
    }
  }

  private static void inAnInterruptedThread(Runnable calls) throws InterruptedException {
    Throwable[] failed = new Throwable[1];
    Thread t = new Thread(() -> {
      Thread.currentThread().interrupt();
      try {
        calls.run();
      } catch (Throwable e) {
        failed[0] = e;
      }
    });
    t.start();
    t.join();
    if (failed[0] != null) {
      throw new AssertionError("a call made with the interrupt status set failed", failed[0]);
    }
  }
}
