package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.Test;

class FrontMaintenanceTest {
  final FrontMaintenance maintenance = new FrontMaintenance();
  final ConcurrentHashMap<String, String> map = new ConcurrentHashMap<>();
  /** The threads the tasks given to {@code maintenance} ran on, in order. */
  final List<Thread> ranOn = new ArrayList<>();

  void schedule() {
    maintenance.execute(() -> ranOn.add(Thread.currentThread()));
  }

  @Test
  void maintenanceScheduledByAWriteRunsOnTheWriterBeforeTheWriteReturns() {
    maintenance.compute(map, "k", (k, old) -> {
      schedule();
      return "v";
    });
    assertThat(ranOn).containsExactly(Thread.currentThread());
    assertThat(map).containsEntry("k", "v");
  }

  @Test
  void maintenanceScheduledOutsideAWriteWaitsForAHitInALaterMillisecond() {
    maintenance.afterHit(41);
    schedule();
    assertThat(ranOn).isEmpty();
    maintenance.afterHit(42);
    assertThat(ranOn).containsExactly(Thread.currentThread());

    schedule();
    maintenance.afterHit(42);
    assertThat(ranOn).as("a second run in the same millisecond").hasSize(1);
    maintenance.afterHit(43);
    assertThat(ranOn).hasSize(2);
  }

  @Test
  void aWriteRunsTheMaintenanceThatWaits() {
    schedule();
    maintenance.compute(map, "k", (k, old) -> {
      assertThat(ranOn).as("run after the write, not inside it").isEmpty();
      return "v";
    });
    assertThat(ranOn).containsExactly(Thread.currentThread());
  }

  @Test
  void aTaskScheduledWhileAnotherWaitsRunsAtOnce() {
    schedule();
    maintenance.execute(() -> ranOn.add(null));
    assertThat(ranOn).containsExactly((Thread) null);
    maintenance.afterHit(1);
    assertThat(ranOn).containsExactly(null, Thread.currentThread());
  }

  @Test
  void aWriteInsideAWriteLeavesTheOuterOneInline() {
    maintenance.compute(map, "outer", (k, old) -> {
      new FrontMaintenance().compute(new ConcurrentHashMap<String, String>(), "inner", (k2, o2) -> "inner");
      schedule();
      assertThat(ranOn).containsExactly(Thread.currentThread());
      return "v";
    });
  }

  @Test
  void aWriteThatThrowsDoesNotLeaveTheThreadMarkedAsWriting() {
    assertThatThrownBy(() -> maintenance.compute(map, "k", (k, old) -> {
      throw new IllegalStateException("remapping failed");
    })).isInstanceOf(IllegalStateException.class);
    schedule();
    assertThat(ranOn).as("deferred, as outside any write").isEmpty();
  }

  /**
   * With Caffeine itself: hits that fill its read buffer leave one drain waiting, instead of a thread
   * woken or a drain run per buffer; the first hit of the next millisecond runs it, so the hits of
   * that millisecond can schedule the next.
   */
  @Test
  void caffeinesReadDrainWaitsForTheNextMillisecond() {
    List<Runnable> handedOver = new ArrayList<>();
    Cache<Integer, Integer> cache = Caffeine.newBuilder().maximumSize(100).executor(task -> {
      handedOver.add(task);
      maintenance.execute(task);
    }).build();
    for (int i = 0; i < 100; i++) {
      int key = i;
      maintenance.compute(cache.asMap(), key, (k, old) -> key);
    }
    List<Integer> scheduled = new ArrayList<>();
    for (long millis = 1_000; millis < 1_004; millis++) {
      int before = handedOver.size();
      for (int i = 0; i < 1_000; i++) {
        assertThat(cache.getIfPresent(i % 100)).isEqualTo(i % 100);
        maintenance.afterHit(millis);
      }
      scheduled.add(handedOver.size() - before);
    }
    // The first millisecond runs its first drain at once (none ran in it yet) and keeps its second.
    assertThat(scheduled).as("drains scheduled by 1,000 hits in each millisecond").containsExactly(2, 1, 1, 1);
    assertThat(cache.asMap()).hasSize(100);
  }
}
