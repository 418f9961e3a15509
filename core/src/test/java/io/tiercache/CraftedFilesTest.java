package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Files whose checksums are valid and whose numbers are not: a checksum tells a torn or rotten file
 * from an intact one, not a sane one from a crafted one. Opening must stay bounded and report damage.
 */
class CraftedFilesTest {
  @TempDir Path dir;

  private PersistentStore open() {
    return JsonFileStore.open(PlantedFifoTest.config(dir, "c", Durability.WRITE, java.time.Duration.ZERO));
  }

  @Test
  void aBatchClaimingBillionsOfRecordsIsNotTakenAtItsWord() throws Exception {
    try (PersistentStore store = open()) {
      store.put("k", "1".getBytes(UTF_8));
    }
    Files.write(dir.resolve("c.journal"), Journal.batch("someoneelse", 1, Integer.MAX_VALUE - 8),
        StandardOpenOption.APPEND);
    try (PersistentStore again = open()) {
      assertThat(new String(again.get("k").bytes.toByteArray(), UTF_8)).isEqualTo("1");
    }
  }
}
