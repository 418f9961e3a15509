package io.tiercache;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.jspecify.annotations.Nullable;

/**
 * Reads the journal as it grows: other processes' batches are handed to the store, this process's
 * own are recognized by their marker and only counted (their changes are in memory already; when
 * nothing else was appended, the store skips them unread), and a seal (another compactor, or this
 * one, replacing the journal) stops the reading there.
 *
 * <p>Not thread-safe: the store calls it under its I/O lock. Only a {@link Pending} read, the reading
 * and parsing, may run without it, to be handed over under it.
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
  /** Volatile: a write reads its format without the I/O lock. */
  private volatile JournalFile journal;
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
    Pending p = pending();
    p.read(Long.MAX_VALUE);
    return deliver(p, receiver);
  }

  /** A read from where this follower stands, which {@link Pending#read} may do without the store's lock. */
  Pending pending() {
    return new Pending(journal, cursor, sealed);
  }

  /**
   * Hands over what {@code p} read and moves past it, unless this follower moved since {@link #pending}
   * (then nothing is done). Returns whether anything was read.
   */
  boolean deliver(Pending p, Receiver receiver) {
    if (p.journal != journal || p.from != cursor || sealed) {
      return false;
    }
    p.events.forEach(event -> event.accept(receiver));
    damagedLines += p.damaged;
    if (p.sealGeneration >= 0) {
      sealed = true;
      sealGeneration = p.sealGeneration;
    }
    cursor += p.consumed;
    return p.consumed > 0;
  }

  /**
   * Units read and parsed from a journal, not yet handed over. Reading needs no lock: it reads bytes
   * below the journal's size, which appends never change.
   */
  final class Pending {
    private final JournalFile journal;
    private final long from;
    private final boolean sealedBefore;
    private final List<Consumer<Receiver>> events = new ArrayList<>();
    private int consumed;
    private int damaged;
    private long sealGeneration = -1;

    private Pending(JournalFile journal, long from, boolean sealedBefore) {
      this.journal = journal;
      this.from = from;
      this.sealedBefore = sealedBefore;
    }

    /**
     * Reads the whole units of the next {@code maxBytes}, as if the journal ended after the last (all
     * that was appended when it ends sooner), up to a seal. False, reading nothing, when there is
     * none: a unit longer than {@code maxBytes}, or a seal before.
     */
    boolean read(long maxBytes) throws IOException {
      long size = journal.size();
      if (sealedBefore || size <= from) {
        return false;
      }
      long to = size - from > maxBytes ? from + maxBytes : size;
      byte[] buf = journal.read(from, to);
      int length = buf.length;
      if (to < size) {
        // Up to the last line that ends a unit: the next line is the line break that opens a unit.
        length = lastIndexOfUnitStart(buf);
        if (length <= 0) {
          return false;
        }
      }
      consumed = Journal.scan(buf, length, from, new Journal.Visitor() {
        @Override public void header(int format, long generation, long carriedBytes) {
          events.add(r -> r.damaged(from, "a second header line")); // only the first line may be one
        }

        @Override public boolean wantsRecords(String writer) {
          return !self.equals(writer);
        }

        @Override public void batch(@Nullable String writer, long number, List<Journal.Record> records) {
          events.add(self.equals(writer) ? r -> r.readBack(number) : r -> r.apply(records));
        }

        @Override public boolean seal(long fileOffset, long generation, String writer, long renderedFrom) {
          sealGeneration = generation;
          return true;
        }

        @Override public void corrupt(long fileOffset, String reason) {
          damaged++;
          events.add(r -> r.damaged(fileOffset, reason));
        }

        @Override public void interrupted(long fileOffset, String reason) {
          events.add(r -> r.interrupted(fileOffset, reason));
        }
      });
      return consumed > 0;
    }
  }

  /** Moves past what was appended up to {@code size}, unread: this process's own batches, and nothing else. */
  void skipOwn(long size) {
    cursor = size;
  }

  /** Where the last unit of {@code buf} begins (after a line's end, a line break), or -1. */
  private static int lastIndexOfUnitStart(byte[] buf) {
    for (int i = buf.length - 1; i > 0; i--) {
      if (buf[i] == '\n' && buf[i - 1] == '\n') {
        return i;
      }
    }
    return -1;
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
    Maintenance.closeLater(old, old.path); // unlinked by the switch: closing it frees its blocks
  }

  /** Starts over on {@code next} from its first record (after a reload from the snapshot). */
  void restart(JournalFile next, long from) {
    JournalFile old = journal;
    journal = next;
    cursor = from;
    sealed = false;
    damagedLines = 0;
    if (old != next) {
      Maintenance.closeLater(old, old.path);
    }
  }

  void close() {
    journal.close();
  }
}
