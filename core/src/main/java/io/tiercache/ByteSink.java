package io.tiercache;

import java.util.Arrays;

/** An unsynchronized growable byte buffer (ByteArrayOutputStream locks on every byte). */
final class ByteSink {
  private byte[] buf;
  private int size;

  ByteSink(int capacity) {
    buf = new byte[Math.max(16, capacity)];
  }

  void write(int b) {
    if (size == buf.length) {
      grow(1);
    }
    buf[size++] = (byte) b;
  }

  void write(byte[] src, int off, int len) {
    if (size + len > buf.length) {
      grow(len);
    }
    System.arraycopy(src, off, buf, size, len);
    size += len;
  }

  /** Appends {@code length} bytes of {@code src} from {@code pos}. */
  void write(Mapped src, long pos, int length) {
    if (size + length > buf.length) {
      grow(length);
    }
    src.get(pos, buf, size, length);
    size += length;
  }

  void write(byte[] src) {
    write(src, 0, src.length);
  }

  /** Appends {@code v} in little-endian byte order. */
  void writeLongLe(long v) {
    for (int i = 0; i < Long.BYTES; i++) {
      write((int) (v >>> (8 * i)));
    }
  }

  /** Leaves {@code n} bytes to be filled in later through {@link #array}. */
  void skip(int n) {
    if (size + n > buf.length) {
      grow(n);
    }
    size += n;
  }

  void writeAscii(String s) {
    for (int i = 0; i < s.length(); i++) {
      write(s.charAt(i));
    }
  }

  private void grow(int extra) {
    long wanted = Math.max((long) buf.length * 2, (long) size + extra);
    if (wanted > Integer.MAX_VALUE - 8) {
      throw new IllegalStateException("over 2 GB in one buffer");
    }
    buf = Arrays.copyOf(buf, (int) wanted);
  }

  int size() {
    return size;
  }

  /** The backing array; valid bytes are {@code [0, size())}. */
  byte[] array() {
    return buf;
  }

  byte[] toByteArray() {
    return Arrays.copyOf(buf, size);
  }

  void reset() {
    size = 0;
  }
}
