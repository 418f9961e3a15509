package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;

import io.tiercache.Assets.Model;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The statistics the JSON store feeds through {@link PersistentStore#counters()}: compactions, and the
 * time spent waiting for the inter-process lock while another process (here another descriptor on the
 * same lock file, as another JVM would hold it) keeps it.
 */
class StoreStatisticsTest {
  @TempDir Path dir;

  @Test
  void compactionsAndLockWaitsAreCounted() throws Exception {
    try (TieredCache<String, Model> cache = TieredCache.builder(String.class, Model.class).directory(dir)
        .name("models").expireAfter(Duration.ofHours(1)).refreshInterval(Duration.ZERO).recordStats().build()) {
      for (int i = 0; i < 10; i++) {
        cache.put("m" + i, Model.of("m" + i));
      }
      long compactions = cache.stats().compactionCount();
      cache.flush();
      assertThat(cache.stats().compactionCount()).as("flush folds the journal").isGreaterThan(compactions);

      long waitedBefore = cache.stats().lockWaitTime();
      LockFile otherProcess = new LockFile(new FileNames(dir, "models").state(), Duration.ofSeconds(10),
          FileOps.ownerOnly(), FileOps.Use.IN_PLACE);
      otherProcess.lock();
      CountDownLatch holding = new CountDownLatch(1);
      Thread releaser = new Thread(() -> {
        try {
          holding.await(10, TimeUnit.SECONDS);
          Thread.sleep(300);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } finally {
          otherProcess.unlock();
        }
      });
      releaser.start();
      try {
        cache.put("late", Model.of("late"));
        holding.countDown();
        cache.flush(); // compacts under the lock the other holder keeps for 300 ms
      } finally {
        releaser.join(TimeUnit.SECONDS.toMillis(20));
        otherProcess.close();
      }
      assertThat(cache.stats().lockWaitTime() - waitedBefore).as("waited for the other holder")
          .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(200));
    }
  }
}
