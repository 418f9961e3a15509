package io.tiercache;

/**
 * One entry's encoded JSON value as the persistent tier holds it: a range of a buffer that may be
 * shared with other entries (a snapshot file read once and indexed, never copied per entry).
 * Immutable; the buffer is never written after the entry is created.
 */
final class Encoded {
  final byte[] buf;
  final int offset;
  final int length;
  /** The local write sequence that produced it, or 0 for a value read from a file. */
  final long seq;

  Encoded(byte[] buf, int offset, int length, long seq) {
    this.buf = buf;
    this.offset = offset;
    this.length = length;
    this.seq = seq;
  }

  static Encoded of(byte[] bytes, long seq) {
    return new Encoded(bytes, 0, bytes.length, seq);
  }

  boolean sameBytes(Encoded other) {
    return java.util.Arrays.equals(buf, offset, offset + length,
        other.buf, other.offset, other.offset + other.length);
  }

  byte[] toByteArray() {
    return java.util.Arrays.copyOfRange(buf, offset, offset + length);
  }
}
