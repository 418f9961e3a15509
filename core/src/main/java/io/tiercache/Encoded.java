package io.tiercache;

import java.util.Arrays;

/**
 * One entry's encoded JSON value as the persistent tier holds it: a range of a buffer that may be
 * shared with other entries (a journal read once, never copied per entry). Immutable; the buffer is
 * never written after the entry is created. A removal recorded over an older value is an
 * {@code Encoded} with no bytes ({@link #removed()}).
 */
final class Encoded {
  private static final byte[] NONE = new byte[0];

  final byte[] buf;
  final int offset;
  final int length;
  /** The local write sequence that produced it, or 0 for a value read from a file. */
  final long seq;
  private final boolean removed;
  /** Read from a snapshot's table: laid out as a member of {@code "data"} already. */
  private final boolean laidOut;

  Encoded(byte[] buf, int offset, int length, long seq) {
    this(buf, offset, length, seq, false, false);
  }

  private Encoded(byte[] buf, int offset, int length, long seq, boolean removed, boolean laidOut) {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.seq = seq;
    this.removed = removed;
    this.laidOut = laidOut;
  }

  static Encoded of(byte[] bytes, long seq) {
    return new Encoded(bytes, 0, bytes.length, seq);
  }

  /** A value as a snapshot's table holds it: written by {@link #writeAsEntry}. */
  static Encoded laidOut(byte[] bytes) {
    return new Encoded(bytes, 0, bytes.length, 0, false, true);
  }

  /** The removal of a key, written by local write {@code seq} (0: read from a file). */
  static Encoded removal(long seq) {
    return new Encoded(NONE, 0, 0, seq, true, false);
  }

  /**
   * Writes the value as a member of the snapshot's {@code "data"} (Python's {@code indent=4} at depth
   * 2). A value read from a snapshot is laid out so already, and the layout is a function of the
   * value and its depth: it is copied as it stands, not laid out again.
   */
  void writeAsEntry(ByteSink out) {
    if (laidOut) {
      out.write(buf, offset, length);
    } else {
      JsonText.writeIndented(out, buf, offset, offset + length, 2);
    }
  }

  boolean removed() {
    return removed;
  }

  boolean sameBytes(Encoded other) {
    return removed == other.removed
        && Arrays.equals(buf, offset, offset + length, other.buf, other.offset, other.offset + other.length);
  }

  byte[] toByteArray() {
    return Arrays.copyOfRange(buf, offset, offset + length);
  }
}
