package io.tiercache;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;

/**
 * A whole file mapped read-only, in 1 GiB chunks so that files past the 2 GB a
 * {@link MappedByteBuffer} can address are read the same way. Reads that cross a chunk boundary are
 * assembled byte by byte. The file is tiercache's own snapshot, replaced by renames and never
 * written in place, so the mapping stays valid (and unchanged) while it is referenced; the page
 * cache, not the heap, holds it.
 */
final class Mapped {
  private static final int CHUNK_BITS = 30;
  private static final long CHUNK = 1L << CHUNK_BITS;

  /** {@code sun.misc.Unsafe.invokeCleaner}, or null where the JDK does not offer it. */
  private static final java.lang.invoke.@org.jspecify.annotations.Nullable MethodHandle CLEANER = cleaner();

  private final MappedByteBuffer[] chunks;
  private final long size;

  private static java.lang.invoke.@org.jspecify.annotations.Nullable MethodHandle cleaner() {
    try {
      Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
      java.lang.reflect.Field field = unsafeClass.getDeclaredField("theUnsafe");
      field.setAccessible(true);
      return java.lang.invoke.MethodHandles.lookup()
          .findVirtual(unsafeClass, "invokeCleaner", java.lang.invoke.MethodType.methodType(void.class,
              java.nio.ByteBuffer.class))
          .bindTo(field.get(null));
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null; // mappings are then released by the garbage collector
    }
  }

  /**
   * Releases a mapping that nothing will touch again (a snapshot writer's index) now, not at some
   * garbage collection: until then the blocks of a file unlinked meanwhile stay allocated, so every
   * compaction failing on a full disk would keep its temporary file's. Lucene's MMapDirectory did the
   * same before Java 19. A mapping readers may still use is never unmapped (they would fault).
   */
  static void unmap(MappedByteBuffer buffer) {
    if (CLEANER != null) {
      try {
        CLEANER.invokeExact((java.nio.ByteBuffer) buffer);
      } catch (Throwable e) {
        throw new IllegalStateException("cannot unmap a buffer", e);
      }
    }
  }

  private Mapped(MappedByteBuffer[] chunks, long size) {
    this.chunks = chunks;
    this.size = size;
  }

  static Mapped map(FileChannel channel) throws IOException {
    long size = channel.size();
    int n = (int) ((size + CHUNK - 1) >>> CHUNK_BITS);
    MappedByteBuffer[] chunks = new MappedByteBuffer[n];
    for (int i = 0; i < n; i++) {
      long from = (long) i << CHUNK_BITS;
      chunks[i] = channel.map(FileChannel.MapMode.READ_ONLY, from, Math.min(CHUNK, size - from));
      chunks[i].order(ByteOrder.LITTLE_ENDIAN);
    }
    return new Mapped(chunks, size);
  }

  /** {@link #unmap(MappedByteBuffer)} of every chunk: only for a file no reader was ever given. */
  void unmap() {
    for (MappedByteBuffer chunk : chunks) {
      unmap(chunk);
    }
  }

  long size() {
    return size;
  }

  byte get(long pos) {
    return chunks[(int) (pos >>> CHUNK_BITS)].get((int) (pos & (CHUNK - 1)));
  }

  int getInt(long pos) {
    int offset = (int) (pos & (CHUNK - 1));
    if (offset <= CHUNK - Integer.BYTES) {
      return chunks[(int) (pos >>> CHUNK_BITS)].getInt(offset);
    }
    int v = 0;
    for (int i = Integer.BYTES - 1; i >= 0; i--) {
      v = (v << 8) | (get(pos + i) & 0xff);
    }
    return v;
  }

  long getLong(long pos) {
    int offset = (int) (pos & (CHUNK - 1));
    if (offset <= CHUNK - Long.BYTES) {
      return chunks[(int) (pos >>> CHUNK_BITS)].getLong(offset);
    }
    long v = 0;
    for (int i = Long.BYTES - 1; i >= 0; i--) {
      v = (v << 8) | (get(pos + i) & 0xff);
    }
    return v;
  }

  /** Copies {@code length} bytes from {@code pos} into {@code dst[offset, offset + length)}. */
  void get(long pos, byte[] dst, int offset, int length) {
    while (length > 0) {
      MappedByteBuffer chunk = chunks[(int) (pos >>> CHUNK_BITS)];
      int from = (int) (pos & (CHUNK - 1));
      int n = Math.min(length, chunk.capacity() - from);
      chunk.get(from, dst, offset, n);
      pos += n;
      offset += n;
      length -= n;
    }
  }

  byte[] bytes(long pos, int length) {
    byte[] b = new byte[length];
    get(pos, b, 0, length);
    return b;
  }

  /** Whether {@code bytes} stand at {@code pos}. */
  boolean matches(long pos, byte[] bytes, int length) {
    if (pos < 0 || pos + length > size) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      if (get(pos + i) != bytes[i]) {
        return false;
      }
    }
    return true;
  }
}
