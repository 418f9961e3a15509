package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
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

  @Test
  void aSnapshotHeaderWhoseIndexSizeWrapsIsDamagedNotTrusted() throws Exception {
    try (PersistentStore store = open()) {
      for (int i = 0; i < 10; i++) {
        store.put("k" + i, ("{\"v\":" + i + "}").getBytes(UTF_8));
      }
      store.flush();
    }
    Path snapshot = dir.resolve("c.snapshot");
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(snapshot)).order(ByteOrder.LITTLE_ENDIAN);
    b.putLong(24 + 16, 1L << 61); // live slots: 2^61 * 24 bytes wraps to 0
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, SnapshotFile.HEADER_BYTES - 8);
    b.putInt(SnapshotFile.HEADER_BYTES - 8, (int) crc.getValue());
    Files.write(snapshot, b.array());

    try (PersistentStore again = open()) {
      again.get("k1"); // served from what else holds it, or not at all; never a raw index error
    }
    try (Stream<Path> files = Files.list(dir)) {
      assertThat(files.map(p -> p.getFileName().toString())).anyMatch(n -> n.startsWith("c.snapshot.corrupt-"));
    }
  }
}
