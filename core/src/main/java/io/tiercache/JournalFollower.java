package io.tiercache;

import java.io.IOException;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * Reads the journal as it grows: other processes' batches are handed to the store, this process's
 * own are recognized by their marker and only counted (their changes are in memory already), and a
 * seal (another compactor, or this one, replacing the journal) stops the reading there.
 *
 * <p>Not thread-safe: the store calls it under its I/O lock.
 */
final class JournalFollower {
  /** Receives what the follower reads. */
  interface Receiver {
    /** Another writer's batch (or a record of a format 1 journal), to apply in this order. */
    void apply(List<Journal.Record> records);

    /** This writer's batch {@code number}, read back. */
    void readBack(long number);

    void damaged(long fileOffset, String reason);

    /** A unit cut short by a crash or a full disk (nothing of it applies; nothing acknowledged was in it). */
    void interrupted(long fileOffset, String reason);
  }

  private final String self;
  private JournalFile journal;
  private long cursor;
  private boolean sealed;
  private long sealGeneration;
  private int damagedLines;

  JournalFollower(String self, JournalFile journal, long cursor) {
    this.self = self;
    this.journal = journal;
    this.cursor = cursor;
  }

  JournalFile journal() {
    return journal;
  }

  long cursor() {
    return cursor;
  }

  /** Whether the last read stopped at a seal: the journal is being (or was) replaced. */
  boolean sealed() {
    return sealed;
  }

  /** The generation the seal announced. */
  long sealGeneration() {
    return sealGeneration;
  }

  int damagedLines() {
    return damagedLines;
  }

  /** Counts damaged lines another reader of this journal found before this one took over. */
  void noteDamaged(int lines) {
    damagedLines += lines;
  }

  /**
   * Reads and hands over what was appended since the last read, up to a seal. A partial unit at the
   * end (an append in progress) is left for the next read. Returns whether anything was read.
   */
  boolean read(Receiver receiver) throws IOException {
    if (sealed) {
      return false;
    }
    long size = journal.size();
    if (size <= cursor) {
      return false;
    }
    byte[] buf = journal.read(cursor, size);
    long start = cursor;
    int consumed = Journal.scan(buf, buf.length, cursor, new Journal.Visitor() {
      @Override public void header(int format, long generation, long carriedBytes) {
        receiver.damaged(start, "a second header line"); // only the first line may be one
      }

      @Override public void batch(@Nullable String writer, long number, List<Journal.Record> records) {
        if (self.equals(writer)) {
          receiver.readBack(number);
        } else {
          receiver.apply(records);
        }
      }

      @Override public boolean seal(long fileOffset, long generation, String writer) {
        sealed = true;
        sealGeneration = generation;
        return true;
      }

      @Override public void corrupt(long fileOffset, String reason) {
        damagedLines++;
        receiver.damaged(fileOffset, reason);
      }

      @Override public void interrupted(long fileOffset, String reason) {
        receiver.interrupted(fileOffset, reason);
      }
    });
    cursor += consumed;
    return consumed > 0;
  }

  /** Reads on past a void seal (its switch was abandoned). */
  void unseal() {
    sealed = false;
  }

  /**
   * Moves on to {@code next}, the journal that replaced the sealed one, past the records it carried
   * over (read here already, up to the seal).
   */
  void follow(JournalFile next) {
    JournalFile old = journal;
    journal = next;
    cursor = next.headerLength + next.carriedBytes;
    sealed = false;
    damagedLines = 0;
    old.close();
  }

  /** Starts over on {@code next} from its first record (after a reload from the snapshot). */
  void restart(JournalFile next, long from) {
    JournalFile old = journal;
    journal = next;
    cursor = from;
    sealed = false;
    damagedLines = 0;
    if (old != next) {
      old.close();
    }
  }

  void close() {
    journal.close();
  }
}
