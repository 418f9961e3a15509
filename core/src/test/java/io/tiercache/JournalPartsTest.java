package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The journal's parts apart: its file, the appender's batches, the follower. */
class JournalPartsTest {
  @TempDir Path dir;
  final FileOps files = FileOps.ownerOnly();

  Path newJournal(long generation) throws Exception {
    Path p = dir.resolve("c.journal");
    files.create(p).close();
    Files.write(p, Journal.header(generation, 0));
    return p;
  }

  static byte[] put(String key, String json) {
    byte[] v = json.getBytes(UTF_8);
    return Journal.put(key, v, 0, v.length);
  }

  // ---------------------------------------------------------------- JournalFile

  @Test
  void aHeaderHasTheSameLengthForAnyCarriedLengthAndReadsBackWhatItSays() throws Exception {
    // A compactor writes the carried records first and the header last, into the space left for it.
    assertThat(Journal.header(9, 0)).hasSize(Journal.header(9, Long.MAX_VALUE).length);
    Path p = newJournal(9);
    byte[] carried = SnapshotAndJournalTest.batch("w", 1, put("a", "1"));
    try (var out = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.WRITE)) {
      out.write(java.nio.ByteBuffer.wrap(carried), Journal.header(9, 0).length);
      out.write(java.nio.ByteBuffer.wrap(Journal.header(9, carried.length)), 0);
    }
    try (JournalFile j = JournalFile.open(p, files)) {
      assertThat(j.generation).isEqualTo(9);
      assertThat(j.carriedBytes).isEqualTo(carried.length);
      assertThat(j.headerLength + j.carriedBytes).isEqualTo(j.size());
    }
  }

  @Test
  void aJournalFileCopiesARangeIntoAnotherFileAtAGivenOffset() throws Exception {
    Path p = newJournal(2);
    try (JournalFile j = JournalFile.open(p, files);
        var out = java.nio.channels.FileChannel.open(dir.resolve("copy"), java.nio.file.StandardOpenOption.CREATE,
            java.nio.file.StandardOpenOption.READ, java.nio.file.StandardOpenOption.WRITE)) {
      j.append(SnapshotAndJournalTest.batch("w", 1, put("a", "1")));
      long from = j.headerLength;
      assertThat(j.copyTo(from, j.size(), out, 5)).isEqualTo(j.size() - from);
      assertThat(j.copyTo(from, j.size() + 100, out, 5)).as("past the end: what there is").isEqualTo(j.size() - from);
      byte[] copied = Files.readAllBytes(dir.resolve("copy"));
      assertThat(java.util.Arrays.copyOfRange(copied, 5, copied.length)).isEqualTo(j.read(from, j.size()));
    }
  }

  /**
   * A follower reads without the store's lock, and a switch may close the journal meanwhile: once closed,
   * its descriptor's number is the next opened file's, which a read, a size or a force must never reach.
   */
  @Test
  void aClosedJournalFileRefusesReadsAndForcesEvenWhenItsNumberIsAnotherFilesNow() throws Exception {
    JournalFile j = JournalFile.open(newJournal(3), files);
    j.append(SnapshotAndJournalTest.batch("w", 1, put("mine", "1")));
    j.close();
    Path other = dir.resolve("other.journal");
    files.create(other).close();
    Files.write(other, Journal.header(9, 0));
    try (JournalFile reuser = JournalFile.open(other, files); // most likely under the number just freed
        java.nio.channels.FileChannel copy = java.nio.channels.FileChannel.open(dir.resolve("copy"),
            java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE)) {
      reuser.append(SnapshotAndJournalTest.batch("x", 1, put("theirs", "2".repeat(500))));
      assertThatThrownBy(() -> j.read(0, 100)).isInstanceOf(java.nio.channels.ClosedChannelException.class);
      assertThatThrownBy(j::size).isInstanceOf(java.nio.channels.ClosedChannelException.class);
      assertThatThrownBy(() -> j.copyTo(0, 100, copy, 0)).isInstanceOf(java.nio.channels.ClosedChannelException.class);
      assertThat(j.forceIfOpen()).isFalse();
      assertThat(j.current()).isFalse();
      j.close(); // again: nothing, above all not the reuser's descriptor
      assertThat(new String(reuser.read(0, reuser.size()), UTF_8)).contains("theirs");
    }
  }

  @Test
  void aJournalFileAppendsWholeUnitsAndReadsTheSameFileEvenAfterItsNameMoves() throws Exception {
    Path p = newJournal(4);
    try (JournalFile j = JournalFile.open(p, files)) {
      assertThat(j.generation).isEqualTo(4);
      assertThat(j.format).isEqualTo(Journal.FORMAT);
      j.append(SnapshotAndJournalTest.batch("w", 1, put("a", "1")));
      assertThat(j.current()).isTrue();
      Files.move(p, dir.resolve("renamed"));
      Files.write(p, Journal.header(5, 0)); // a new journal under the old name
      assertThat(j.current()).isFalse();
      j.append(SnapshotAndJournalTest.batch("w", 2, put("b", "2")));
      String old = new String(j.read(0, j.size()), UTF_8);
      assertThat(old).contains("\"a\"", "\"b\"");
      assertThat(Files.readString(p)).doesNotContain("\"b\"");
    }
  }

  @Test
  void aJournalOfANewerFormatIsRefusedAPlantedOneTooAndOneWithoutHeaderIsMarked() throws Exception {
    Path p = dir.resolve("c.journal");
    files.create(p).close();
    Files.write(p, SnapshotAndJournalTest.crcLine("[\"h\",4,7]"));
    assertThatThrownBy(() -> JournalFile.open(p, files)).isInstanceOf(CacheException.class)
        .hasMessageContaining("format 4").hasMessageContaining("newer tiercache");
    Files.write(p, "garbage\nmore".getBytes(UTF_8));
    try (JournalFile damaged = JournalFile.open(p, files)) {
      assertThat(damaged.headerDamaged).isTrue();
      assertThat(damaged.headerLength).as("records start after the first line").isEqualTo(8);
    }
    Files.write(p, ("x".repeat(300) + "\nmore").getBytes(UTF_8));
    try (JournalFile damaged = JournalFile.open(p, files)) {
      assertThat(damaged.headerLength).as("a first line longer than a header").isEqualTo(301);
    }
    assertThat(Files.readString(p)).as("opening changes nothing").isEqualTo("x".repeat(300) + "\nmore");
    Files.delete(p);
    assertThatThrownBy(() -> JournalFile.open(p, files)).isInstanceOf(NoSuchFileException.class);
    Files.createSymbolicLink(p, newJournalElsewhere());
    assertThatThrownBy(() -> JournalFile.open(p, files)).hasMessageContaining("symbolic link");
    Files.delete(p);
    files.create(p).close();
    Files.write(p, Journal.header(1, 0));
    Files.setPosixFilePermissions(p, PosixFilePermissions.fromString("rw-rw-rw-"));
    assertThatThrownBy(() -> JournalFile.open(p, files)).hasMessageContaining("grants");
  }

  private Path newJournalElsewhere() throws Exception {
    Path other = Files.createTempDirectory(dir, "other").resolve("victim.journal");
    Files.write(other, Journal.header(1, 0));
    return other;
  }

  // ---------------------------------------------------------------- JournalAppender

  /** Takes and frames the next batch, as the store does (under its locks); null when nothing is queued. */
  private static JournalAppender.@Nullable Batch take(JournalAppender appender) {
    JournalAppender.Pending[] records = appender.take();
    return records == null ? null : appender.frame(records);
  }

  @Test
  void theAppenderCutsTheQueueIntoBatchesOfBoundedSizeAndPutsAFailedOneBack() {
    Object lock = new Object();
    JournalAppender a = new JournalAppender(lock, 100);
    for (int i = 1; i <= 5; i++) {
      a.enqueue(put("k" + i, "\"0123456789012345678901234567890123456789\""), i);
    }
    JournalAppender.Batch first = take(a);
    assertThat(first.records()).hasSize(2); // ~70 bytes each: the second one passes 100
    assertThat(first.firstSeq()).isEqualTo(1);
    assertThat(first.lastSeq()).isEqualTo(2);
    assertThat(new String(bytes(first), UTF_8)).startsWith("\n").contains("[\"b\",\"" + a.writer + "\",1,2]");
    a.putBack(first);
    JournalAppender.Batch again = take(a);
    assertThat(again.firstSeq()).isEqualTo(1);
    assertThat(again.number()).isEqualTo(2); // a new number: a torn copy of 1 may be in the file
    a.written(again);
    assertThat(a.writtenSeq()).isEqualTo(2);
    assertThat(a.lastWrittenBatch()).isEqualTo(2);
    JournalAppender.Batch next = take(a);
    a.written(next);
    assertThat(a.readBack(2)).isEqualTo(2);
    assertThat(a.readBack(next.number())).isEqualTo(next.lastSeq());
    a.failed(take(a), new CacheException("disk full", dir));
    assertThat(a.failureOf(5)).hasMessageContaining("disk full");
    assertThat(a.failureOf(4)).isNull();
    assertThat(take(a)).isNull();
  }

  /** A rollover is framed in the format of the journal it is written to, and framed again if it moves. */
  @Test
  void aRolloverIsFramedInTheFormatOfItsJournal() {
    JournalAppender a = new JournalAppender(new Object(), 1 << 20);
    a.enqueue(Journal.rollover(7_200_000, true, 3_600_000), Journal.legacyRollover(7_200_000, true), 1);
    a.enqueue(put("k", "1"), 2);
    JournalAppender.Batch format2 = a.frame(a.take(), 2);
    assertThat(new String(bytes(format2), UTF_8)).contains("[\"c\",7200.0,1]\n").doesNotContain("3600");
    JournalAppender.Batch format3 = a.reframe(format2, 3);
    assertThat(format3.number()).isEqualTo(format2.number());
    assertThat(new String(bytes(format3), UTF_8)).contains("[\"c\",7200.0,1,3600.0]\n").contains("\"k\"");
    assertThat(a.reframe(format3, 3)).isSameAs(format3);
  }

  /** The store frames a batch after releasing the queue lock: what is queued meanwhile waits for the next one. */
  @Test
  void aBatchHoldsWhatWasTakenAndNothingQueuedWhileItIsFramed() {
    JournalAppender a = new JournalAppender(new Object(), 1 << 20);
    a.enqueue(put("k1", "1"), 1);
    a.enqueue(put("k2", "2"), 2);
    JournalAppender.Pending[] taken = a.take();
    assertThat(a.queuedBytes()).isZero();
    a.enqueue(put("k3", "3"), 3);
    JournalAppender.Batch b = a.frame(taken);
    assertThat(b.lastSeq()).isEqualTo(2);
    assertThat(new String(bytes(b), UTF_8)).contains("\"k2\"").doesNotContain("\"k3\"");
    a.written(b);
    JournalAppender.Batch next = take(a);
    assertThat(next.firstSeq()).isEqualTo(3);
    assertThat(next.number()).isEqualTo(b.number() + 1);
  }

  @Test
  void aBatchReadsBackAsOneUnitOfItsWriter() throws Exception {
    JournalAppender a = new JournalAppender(new Object(), 1 << 20);
    a.enqueue(put("x", "1"), 1);
    a.enqueue(Journal.remove("y"), 2);
    JournalAppender.Batch b = take(a);
    SnapshotAndJournalTest.Recorder r = new SnapshotAndJournalTest.Recorder(false);
    byte[] unit = bytes(b);
    Journal.scan(unit, unit.length, 0, r);
    assertThat(r.seen).containsExactly(a.writer + "#1 px=1 ry");
  }

  /**
   * Batches go to the file from one reused direct buffer, grown as needed, or, past its bound, from
   * the heap: small, growing, oversized and small again, each lands whole and in order.
   */
  @Test
  void batchesOfEverySizeLandInTheFileAsTaken() throws Exception {
    Path p = newJournal(3);
    JournalAppender a = new JournalAppender(new Object(), 1 << 20);
    List<String> expected = new ArrayList<>();
    try (JournalFile j = JournalFile.open(p, files)) {
      int seq = 0;
      for (int size : new int[] {1, 3_000, 9_000, 40_000, 200_000, 2, 70_000, 5}) {
        String value = "\"" + "v".repeat(size) + "\"";
        a.enqueue(put("k" + seq, value), ++seq);
        a.enqueue(put("k" + seq, "[" + size + "]"), ++seq);
        JournalAppender.Batch b = take(a);
        assertThat(b.unit().isDirect()).as("batch of %d bytes", b.length()).isEqualTo(b.length() <= 64 * 1024);
        j.append(b.unit());
        a.written(b);
        expected.add(a.writer + "#" + b.number() + " pk" + (seq - 2) + "=" + value + " pk" + (seq - 1) + "=[" + size + "]");
      }
      byte[] file = j.read(j.headerLength, j.size());
      SnapshotAndJournalTest.Recorder r = new SnapshotAndJournalTest.Recorder(false);
      Journal.scan(file, file.length, 0, r);
      assertThat(r.seen).containsExactlyElementsOf(expected);
      assertThat(j.size() - j.headerLength).isEqualTo(a.unreadBytes());
    }
  }

  @Test
  void aUnitIsWrittenFromTheStartOfItsBuffer() throws Exception {
    try (JournalFile j = JournalFile.open(newJournal(5), files)) {
      java.nio.ByteBuffer moved = java.nio.ByteBuffer.wrap(Journal.seal(2, "w", 0));
      moved.position(1);
      assertThatThrownBy(() -> j.append(moved)).isInstanceOf(IllegalArgumentException.class);
      assertThat(j.size()).isEqualTo(j.headerLength);
    }
  }

  /** Lines are built in place when the key needs no escapes, and trimmed to their bytes when it does. */
  @Test
  void linesReadBackWhateverTheirKeysEscape() {
    for (String key : new String[] {"plain", "quo\"te", "back\\slash", "tab\tand\nline", "ünïcode", "", "\u0001"}) {
      byte[] line = put(key, "{\"a\":[1,2]}");
      assertThat(line[line.length - 1]).as(key).isEqualTo((byte) '\n');
      assertThat(line).as(key).doesNotContain(0);
      byte[] unit = SnapshotAndJournalTest.batch("w", 1, line, Journal.remove(key));
      SnapshotAndJournalTest.Recorder r = new SnapshotAndJournalTest.Recorder(false);
      Journal.scan(unit, unit.length, 0, r);
      assertThat(r.seen).as(key).containsExactly("w#1 p" + key + "={\"a\":[1,2]} r" + key);
    }
  }

  static byte[] bytes(JournalAppender.Batch b) {
    byte[] unit = new byte[b.length()];
    b.unit().duplicate().get(unit);
    return unit;
  }

  // ---------------------------------------------------------------- JournalFollower

  @Test
  void theFollowerHandsOverOthersBatchesCountsItsOwnAndStopsAtASeal() throws Exception {
    Path p = newJournal(1);
    try (JournalFile writer = JournalFile.open(p, files); JournalFile reader = JournalFile.open(p, files)) {
      writer.append(SnapshotAndJournalTest.batch("me", 1, put("mine", "1")));
      writer.append(SnapshotAndJournalTest.batch("other", 1, put("theirs", "2")));
      byte[] torn = SnapshotAndJournalTest.batch("other", 2, put("t", "3"));
      writer.append(java.util.Arrays.copyOf(torn, torn.length - 3));
      writer.append(SnapshotAndJournalTest.batch("other", 3, put("after", "4")));
      writer.append(Journal.seal(2, "other", 0));
      writer.append(SnapshotAndJournalTest.batch("other", 4, put("late", "5")));

      JournalFollower f = new JournalFollower("me", reader, reader.headerLength);
      List<String> got = new ArrayList<>();
      JournalFollower.Receiver receiver = new JournalFollower.Receiver() {
        @Override public void apply(List<Journal.Record> records) {
          records.forEach(r -> got.add("apply " + r.key()));
        }

        @Override public void readBack(long number) {
          got.add("mine #" + number);
        }

        @Override public void damaged(long fileOffset, String reason) {
          got.add("damaged");
        }

        @Override public void interrupted(long fileOffset, String reason) {
          got.add("interrupted");
        }
      };
      assertThat(f.read(receiver)).isTrue();
      assertThat(got).containsExactly("mine #1", "apply theirs", "interrupted", "interrupted", "apply after");
      assertThat(f.sealed()).isTrue();
      assertThat(f.sealGeneration()).isEqualTo(2);
      assertThat(f.read(receiver)).as("nothing past a seal until it is followed or void").isFalse();
      f.unseal();
      f.read(receiver);
      assertThat(got).last().isEqualTo("apply late");
      f.close();
    }
  }

  /** A receiver that lists what it gets: values, and where a damaged line is. */
  static JournalFollower.Receiver recorder(List<String> got) {
    return new JournalFollower.Receiver() {
      @Override public void apply(List<Journal.Record> records) {
        records.forEach(r -> got.add("apply " + r.key() + "=" + new String(r.value().toByteArray(), UTF_8)));
      }

      @Override public void readBack(long number) {
        got.add("mine #" + number);
      }

      @Override public void damaged(long fileOffset, String reason) {
        got.add("damaged at " + fileOffset);
      }

      @Override public void interrupted(long fileOffset, String reason) {
        got.add("interrupted at " + fileOffset);
      }
    };
  }

  @Test
  void aFollowerReadingInStepsWithoutTheLockSeesWhatOneReadSees() throws Exception {
    Path p = newJournal(1);
    try (JournalFile writer = JournalFile.open(p, files); JournalFile reader = JournalFile.open(p, files)) {
      for (int i = 1; i <= 6; i++) {
        writer.append(SnapshotAndJournalTest.batch("me", i, put("m" + i, "1")));
        writer.append(SnapshotAndJournalTest.batch("other", i, put("a" + i, "[" + i + "]"), put("b" + i, "2")));
      }
      // A record rotted in the middle of a batch, its last byte too (not a whole line): damaged, as the
      // record after it shows, though a read that ended after it would take it for a write cut short.
      byte[] rotten = SnapshotAndJournalTest.batch("other", 7, put("x", "1"), put("y", "22"), put("z", "3"));
      int y = new String(rotten, UTF_8).indexOf("\"y\"");
      rotten[y + 1] = 'Y';
      rotten[new String(rotten, UTF_8).indexOf('\n', y) - 1] = '}';
      writer.append(rotten);
      byte[] torn = SnapshotAndJournalTest.batch("other", 8, put("t", "3"));
      writer.append(java.util.Arrays.copyOf(torn, torn.length - 3));
      writer.append(SnapshotAndJournalTest.batch("other", 9, put("after", "4")));
      writer.append(Journal.seal(2, "other", 0));
      writer.append(SnapshotAndJournalTest.batch("other", 10, put("late", "5")));

      List<String> whole = new ArrayList<>();
      JournalFollower once = new JournalFollower("me", reader, reader.headerLength);
      assertThat(once.read(recorder(whole))).isTrue();
      assertThat(whole).contains("mine #6", "apply a6=[6]", "apply after=4").doesNotContain("apply late=5")
          .anyMatch(e -> e.startsWith("damaged")).anyMatch(e -> e.startsWith("interrupted"));

      long size = reader.size();
      for (int step = 1; step < size; step += 7) {
        List<String> got = new ArrayList<>();
        JournalFollower f = new JournalFollower("me", reader, reader.headerLength);
        for (long s = step; ; ) { // as the store's catch-up does
          JournalFollower.Pending pending = f.pending();
          if (f.sealed() || reader.size() - f.cursor() <= s) {
            f.read(recorder(got));
            break;
          }
          if (!pending.read(s)) {
            s *= 2;
            continue;
          }
          assertThat(f.deliver(pending, recorder(got))).isTrue();
        }
        assertThat(got).as("read in steps of %d bytes", step).isEqualTo(whole);
        assertThat(f.cursor()).isEqualTo(once.cursor());
        assertThat(f.damagedLines()).isEqualTo(once.damagedLines());
        assertThat(f.sealGeneration()).isEqualTo(2);
      }
    }
  }

  @Test
  void aReadIsNotHandedOverOnceTheFollowerHasMoved() throws Exception {
    Path p = newJournal(1);
    try (JournalFile writer = JournalFile.open(p, files); JournalFile reader = JournalFile.open(p, files)) {
      writer.append(SnapshotAndJournalTest.batch("other", 1, put("a", "1")));
      JournalFollower f = new JournalFollower("me", reader, reader.headerLength);
      JournalFollower.Pending early = f.pending();
      assertThat(early.read(Long.MAX_VALUE)).isTrue();
      List<String> got = new ArrayList<>();
      assertThat(f.read(recorder(got))).isTrue(); // under the lock, meanwhile
      assertThat(f.deliver(early, recorder(got))).as("read from where the follower no longer stands").isFalse();
      assertThat(got).containsExactly("apply a=1");
      assertThat(f.cursor()).isEqualTo(reader.size());
    }
  }

  @Test
  void anAppenderOwnsTheTailOnlyWhenItHoldsNothingButItsUnreadBatches() throws Exception {
    Path p = newJournal(1);
    try (JournalFile journal = JournalFile.open(p, files)) {
      JournalAppender mine = new JournalAppender(new Object(), 1 << 20);
      long from = journal.size();
      for (int i = 0; i < 3; i++) {
        mine.enqueue(put("k" + i, "{\"v\":" + i + "}"), i + 1);
        JournalAppender.Batch b = take(mine);
        journal.append(b.unit());
        mine.written(b);
      }
      assertThat(mine.ownedTail(journal, from, journal.size())).isEqualTo(3);
      assertThat(mine.ownedTail(journal, from + 1, journal.size())).as("not from a unit of its own").isEqualTo(-1);

      journal.append(SnapshotAndJournalTest.batch("other", 1, put("theirs", "1")));
      assertThat(mine.ownedTail(journal, from, journal.size())).as("another writer's unit at the end").isEqualTo(-1);
      mine.enqueue(put("k3", "3"), 4);
      JournalAppender.Batch last = take(mine);
      journal.append(last.unit());
      mine.written(last);
      assertThat(mine.ownedTail(journal, from, journal.size())).as("another writer's unit amid them").isEqualTo(-1);

      assertThat(mine.readBack(4)).isEqualTo(4);
      assertThat(mine.ownedTail(journal, journal.size(), journal.size())).as("nothing unread").isEqualTo(-1);

      // Counted as written though not in this journal, and another writer's unit of the same length is:
      // the length alone would take the tail for its own.
      long at = journal.size();
      byte[] record = put("k5", "5");
      mine.enqueue(record, 5);
      mine.written(take(mine));
      journal.append(SnapshotAndJournalTest.batch("x".repeat(mine.writer.length()), 5, record));
      assertThat(mine.ownedTail(journal, at, journal.size())).as("another writer's unit, as long").isEqualTo(-1);
    }
  }

  // ---------------------------------------------------------------- StateFile

  @Test
  void theStatePageIsSharedAndItsLockExcludesAnotherOpenOfIt() throws Exception {
    Path p = dir.resolve("c.state");
    try (StateFile a = new StateFile(p, files, java.time.Duration.ofMillis(200));
        StateFile b = new StateFile(p, files, java.time.Duration.ofMillis(200))) {
      a.lock();
      a.beginSwitch(8);
      assertThat(b.switching()).isEqualTo(8);
      assertThat(b.tryLock()).isFalse();
      assertThatThrownBy(b::lock).isInstanceOf(LockTimeoutException.class).hasMessageContaining("c.state");
      a.endSwitch(8);
      a.unlock();
      assertThat(b.generation()).isEqualTo(8);
      assertThat(b.switching()).isZero();
      assertThat(b.tryLock()).isTrue();
      Path export = dir.resolve("c.json");
      Files.writeString(export, "{}");
      b.recordExport(export);
      assertThat(a.exportUnchanged(export)).isTrue();
      Files.writeString(export, "{ }"); // rewritten in place, as the Python SDK does
      assertThat(a.exportUnchanged(export)).isFalse();
      b.unlock();
    }
    Files.writeString(p, "x".repeat(4096));
    assertThatThrownBy(() -> new StateFile(p, files, java.time.Duration.ofMillis(200)))
        .hasMessageContaining("not a tiercache state file");
  }
}
