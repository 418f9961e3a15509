package io.tiercache;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.SecureRandom;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.Iterator;
import org.jspecify.annotations.Nullable;

/**
 * The queue of journal records this process has made and not yet written, and how they are cut
 * into batches: each batch is one {@code write(2)} that carries a marker naming this writer and the
 * batch number, so that every reader applies it whole, and this process recognizes its own batches
 * when it reads the journal back. Threads that write at the same time share one batch: whoever
 * writes first takes everything queued. Under {@link Durability#FSYNC} the store forces outside its
 * I/O lock, so the batches written while one force runs share the next.
 *
 * <p>The queue is guarded by the store's content lock, so records are queued in the order their
 * changes were made; batches are taken, framed, written and accounted under the store's I/O lock,
 * and only taking also holds the content lock.
 */
final class JournalAppender {
  private static final SecureRandom RANDOM = new SecureRandom();

  /**
   * A batch taken from the queue: its bytes (marker and records, from position 0), valid until the
   * next {@link #frame}, and the local sequences it carries.
   */
  record Batch(long number, ByteBuffer unit, long firstSeq, long lastSeq, Pending[] records, boolean legacy) {
    int length() {
      return unit.limit();
    }
  }

  /**
   * A record queued: its line, and the line to write instead into a format 1 or 2 journal when that
   * differs (a rollover), else null.
   */
  record Pending(byte[] line, long seq, byte @Nullable [] legacyLine) {
    byte[] lineFor(boolean legacy) {
      return legacy && legacyLine != null ? legacyLine : line;
    }
  }

  /** This writer's name in batch markers: random, so two processes (or opens) never share one. */
  final String writer = Long.toString(RANDOM.nextLong() & Long.MAX_VALUE, 36);
  private final int maxBatchBytes;

  @GuardedBy("queueLock")
  private final ArrayDeque<Pending> queue = new ArrayDeque<>();
  @GuardedBy("queueLock")
  private long queuedBytes;
  private final Object queueLock;

  /**
   * The bytes of the last batch taken, reused: a direct buffer goes to {@code write(2)} as it is,
   * where JNA copies an array in and back out around the call. Batches larger than it is allowed to
   * grow go through the heap, so an idle store holds at most this much native memory.
   */
  private ByteBuffer units = ByteBuffer.allocateDirect(4096);
  private static final int MAX_RETAINED_UNIT_BYTES = 64 * 1024;

  private long nextBatch = 1;
  private long lastWrittenBatch;
  /** Batches written and not yet read back by this process's follower: {number, last sequence, bytes, records}. */
  private final ArrayDeque<long[]> unread = new ArrayDeque<>();
  private long unreadBytes;
  /** The highest local sequence written to the journal, and forced to disk. */
  private volatile long writtenSeq;
  private volatile long syncedSeq;
  /** The last failed batch's sequences and why, for the callers that queued them. */
  private volatile @Nullable Failure failure;

  /** A write (or force) that failed, and the local sequences it was to carry. */
  record Failure(long firstSeq, long lastSeq, CacheException cause) {
    boolean covers(long seq) {
      return seq >= firstSeq && seq <= lastSeq;
    }
  }

  /**
   * @param queueLock the lock its callers hold around {@link #enqueue}, {@link #take} and
   *     {@link #putBack} (the store's content lock)
   */
  JournalAppender(Object queueLock, int maxBatchBytes) {
    this.queueLock = queueLock;
    this.maxBatchBytes = maxBatchBytes;
  }

  void enqueue(byte[] line, long seq) {
    enqueue(line, null, seq);
  }

  /** As above, with the line for a format 1 or 2 journal ({@link Journal#legacyRollover}). */
  void enqueue(byte[] line, byte @Nullable [] legacyLine, long seq) {
    queue.add(new Pending(line, seq, legacyLine));
    queuedBytes += line.length;
  }

  long queuedBytes() {
    return queuedBytes;
  }

  boolean isEmpty() {
    return queue.isEmpty();
  }

  /** Queued records with sequences above {@code seq}: their changes land after anything written so far. */
  long lastQueuedSeq() {
    Pending last = queue.peekLast();
    return last == null ? writtenSeq : last.seq;
  }

  /**
   * Takes queued records, oldest first, up to about {@code maxBatchBytes} (at least one); null when
   * the queue is empty. Runs under the queue lock, which every write needs to queue its record: it
   * moves references only, and {@link #frame} copies the bytes after the lock is released.
   */
  Pending @Nullable [] take() {
    if (queue.isEmpty()) {
      return null;
    }
    int records = 0;
    int bytes = 0;
    for (Iterator<Pending> it = queue.iterator(); it.hasNext() && (records == 0 || bytes < maxBatchBytes); ) {
      bytes += it.next().line.length;
      records++;
    }
    Pending[] taken = new Pending[records];
    for (int i = 0; i < records; i++) {
      taken[i] = queue.pollFirst();
    }
    queuedBytes -= bytes;
    return taken;
  }

  /**
   * The records taken as one batch: a marker and their lines in one buffer, valid until the next
   * {@code frame}. Only one thread at a time may frame and write batches (the store's I/O lock).
   */
  Batch frame(Pending[] records) {
    return frame(records, Journal.FORMAT);
  }

  /** As above, for a journal in {@code format}: records follow the journal's format (see {@link Pending}). */
  Batch frame(Pending[] records, int format) {
    return frame(nextBatch++, records, format < 3);
  }

  /**
   * {@code batch} again, for a journal in {@code format}: itself when its lines are that format's
   * already. The buffer of {@code batch} is reused.
   */
  Batch reframe(Batch batch, int format) {
    boolean legacy = format < 3;
    if (legacy == batch.legacy) {
      return batch;
    }
    for (Pending p : batch.records) {
      if (p.legacyLine != null) {
        return frame(batch.number, batch.records, legacy);
      }
    }
    return batch;
  }

  private Batch frame(long number, Pending[] records, boolean legacy) {
    int bytes = 0;
    for (Pending p : records) {
      bytes += p.lineFor(legacy).length;
    }
    byte[] marker = Journal.batch(writer, number, records.length);
    ByteBuffer unit = unitBuffer(marker.length + bytes);
    unit.put(marker);
    for (Pending p : records) {
      unit.put(p.lineFor(legacy));
    }
    return new Batch(number, unit.flip(), records[0].seq, records[records.length - 1].seq, records, legacy);
  }

  private ByteBuffer unitBuffer(int length) {
    if (length > MAX_RETAINED_UNIT_BYTES) {
      return ByteBuffer.allocate(length);
    }
    if (units.capacity() < length) {
      units = ByteBuffer.allocateDirect(Math.min(MAX_RETAINED_UNIT_BYTES, Math.max(length, 2 * units.capacity())));
    }
    return units.clear();
  }

  /** Returns a batch that could not be written to the head of the queue, to be written again later. */
  void putBack(Batch batch) {
    for (int i = batch.records.length - 1; i >= 0; i--) {
      queue.addFirst(batch.records[i]);
      queuedBytes += batch.records[i].line.length;
    }
  }

  /** Counts a batch as written; the follower will read it back. */
  void written(Batch batch) {
    writtenSeq = batch.lastSeq;
    lastWrittenBatch = batch.number;
    unread.add(new long[] {batch.number, batch.lastSeq, batch.length(), batch.records.length});
    unreadBytes += batch.length();
  }

  /** The number of the last batch written; 0 before the first. */
  long lastWrittenBatch() {
    return lastWrittenBatch;
  }

  /**
   * The follower read this writer's batch {@code number} back: returns the last sequence of the
   * batches up to it, whose changes now stand in the file before everything the follower reads next;
   * -1 if there were none.
   */
  long readBack(long number) {
    long seq = -1;
    while (!unread.isEmpty() && unread.peekFirst()[0] <= number) {
      long[] b = unread.pollFirst();
      seq = b[1];
      unreadBytes -= b[2];
    }
    return seq;
  }

  /**
   * The number of the last batch not read back, when {@code journal}'s bytes from {@code from} to
   * {@code size} are this writer's batches not read back and nothing else; -1 when not. Every batch
   * goes to the journal the follower reads, in order, so when these bytes open with the first one's
   * marker, end with the last one, and are as long as all of them, no other writer's unit is among them.
   */
  long ownedTail(JournalFile journal, long from, long size) throws IOException {
    if (unread.isEmpty() || size - from != unreadBytes) {
      return -1;
    }
    long[] first = unread.peekFirst();
    long[] last = unread.peekLast();
    return opensWith(journal, from, first) && opensWith(journal, size - last[2], last) ? last[0] : -1;
  }

  private boolean opensWith(JournalFile journal, long at, long[] batch) throws IOException {
    byte[] marker = Journal.batch(writer, batch[0], (int) batch[3]);
    return Arrays.equals(journal.read(at, at + marker.length), marker);
  }

  /** Everything written is in the files the follower reloaded: nothing is left to read back. */
  void allReadBack() {
    unread.clear();
    unreadBytes = 0;
  }

  /** Bytes this writer appended that the follower has not read back: the journal is that much longer. */
  long unreadBytes() {
    return unreadBytes;
  }

  void synced(long seq) {
    syncedSeq = Math.max(syncedSeq, seq);
  }

  long writtenSeq() {
    return writtenSeq;
  }

  long syncedSeq() {
    return syncedSeq;
  }

  /** Records that {@code batch} failed: the callers of its records get {@code cause}. */
  void failed(Batch batch, CacheException cause) {
    failure = new Failure(batch.firstSeq, batch.lastSeq, cause);
  }

  /** The failure of the write that carried {@code seq}, or null. */
  @Nullable CacheException failureOf(long seq) {
    Failure f = failure;
    return f != null && f.covers(seq) ? f.cause : null;
  }
}
