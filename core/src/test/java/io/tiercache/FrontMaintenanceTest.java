package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class FrontMaintenanceTest {
  final FrontMaintenance executor = FrontMaintenance.INSTANCE;
  final ConcurrentHashMap<String, String> map = new ConcurrentHashMap<>();

  /** The thread {@code executor} ran a task on, once it has run. */
  Thread ranOn() throws Exception {
    CompletableFuture<Thread> ran = new CompletableFuture<>();
    executor.execute(() -> ran.complete(Thread.currentThread()));
    return ran.get(10, TimeUnit.SECONDS);
  }

  @Test
  void maintenanceScheduledByAWriteRunsOnTheWriterBeforeTheWriteReturns() {
    Thread writer = Thread.currentThread();
    CompletableFuture<Thread> ran = new CompletableFuture<>();
    FrontMaintenance.compute(map, "k", (k, old) -> {
      executor.execute(() -> ran.complete(Thread.currentThread()));
      return "v";
    });
    assertThat(ran).isCompletedWithValue(writer);
    assertThat(map).containsEntry("k", "v");
  }

  @Test
  void maintenanceScheduledOutsideAWriteRunsOnTheCommonPool() throws Exception {
    assertThat(ranOn()).isNotSameAs(Thread.currentThread()).isInstanceOf(ForkJoinWorkerThread.class);
  }

  @Test
  void aWriteInsideAWriteLeavesTheOuterOneInline() {
    Thread writer = Thread.currentThread();
    CompletableFuture<Thread> ran = new CompletableFuture<>();
    FrontMaintenance.compute(map, "outer", (k, old) -> {
      FrontMaintenance.compute(new ConcurrentHashMap<String, String>(), "inner", (k2, o2) -> "inner");
      executor.execute(() -> ran.complete(Thread.currentThread()));
      return "v";
    });
    assertThat(ran).isCompletedWithValue(writer);
  }

  @Test
  void aWriteThatThrowsDoesNotLeaveTheThreadMarkedAsWriting() throws Exception {
    assertThatThrownBy(() -> FrontMaintenance.compute(map, "k", (k, old) -> {
      throw new IllegalStateException("remapping failed");
    })).isInstanceOf(IllegalStateException.class);
    assertThat(ranOn()).isNotSameAs(Thread.currentThread());
  }
}
