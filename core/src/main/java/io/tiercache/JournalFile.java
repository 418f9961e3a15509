package io.tiercache;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.jspecify.annotations.Nullable;

/**
 * One open journal file: a descriptor every write and read goes through, writes with {@code O_APPEND}
 * (so writers in other processes never overwrite each other, whatever happens to any lock). Reads are
 * {@code pread(2)}, not a {@code FileChannel}: an interrupt of a thread inside a channel's call closes the
 * channel for every thread, and one caller's {@code Future.cancel(true)} would break the store. A journal
 * is replaced by renaming a new file over its name; this object keeps the one it opened.
 */
final class JournalFile implements AutoCloseable {
  final Path path;
  private final int fd;
  /** The header's generation: the snapshot this journal extends. */
  final long generation;
  final int format;
  /** Bytes of the header line; records start here. */
  final long headerLength;
  /** Bytes after the header copied from the journal this one replaced. */
  final long carriedBytes;
  /**
   * The first line is not a readable header: {@link #generation} is -1, records start after that
   * line, and only a rebuild, which keeps a copy of this file, may use it (see
   * {@link Journal#baseOfHeaderless}).
   */
  final boolean headerDamaged;
  /**
   * Held shared to use the descriptor without the store's I/O lock (a follower's read, a group commit's
   * force), exclusively to close it: once closed, its number may be another file's.
   */
  private final ReentrantReadWriteLock use = new ReentrantReadWriteLock();
  @GuardedBy("use")
  private boolean closed;
  /** The direct buffer last written from and its address: the appender reuses one, and asking JNA is a JNI call. */
  private DirectAddress lastUnit = new DirectAddress(null, 0);

  /** Final fields: a thread that reads a record another thread wrote sees both, never a buffer with a wrong address. */
  private record DirectAddress(@Nullable ByteBuffer buffer, long address) {}

  private JournalFile(Path path, int fd, long[] header) {
    this.path = path;
    this.fd = fd;
    this.headerDamaged = header[0] < 0;
    this.format = headerDamaged ? Journal.FORMAT : (int) header[0];
    this.generation = header[1];
    this.carriedBytes = header[2];
    this.headerLength = header[3];
  }

  /**
   * Opens the journal at {@code path}, which must be one tiercache can trust with its writes.
   *
   * @throws NoSuchFileException if there is none
   * @throws CacheException if its header is of a newer format
   */
  static JournalFile open(Path path, FileOps files) throws IOException {
    int fd = files.openDescriptor(path, FileOps.Use.IN_PLACE, Posix.O_RDWR | Posix.O_APPEND);
    try {
      return new JournalFile(path, fd, readHeader(fd, path));
    } catch (IOException | RuntimeException e) {
      Posix.close(fd);
      throw e;
    }
  }

  /** Where the second line starts: after the first line break, or at the end. */
  private static long firstLineEnd(int fd, Path path) throws IOException {
    for (long at = 0; ; ) {
      byte[] chunk = pread(fd, path, at, 64 << 10);
      int eol = Journal.indexOf(chunk, 0, chunk.length, (byte) '\n');
      if (eol >= 0 || chunk.length == 0) {
        return eol >= 0 ? at + eol + 1 : at;
      }
      at += chunk.length;
    }
  }

  /** format, generation, carried bytes, header length. */
  private static long[] readHeader(int fd, Path path) throws IOException {
    byte[] head = pread(fd, path, 0, 128);
    long[] header = {-1, -1, 0, 0};
    int eol = Journal.indexOf(head, 0, head.length, (byte) '\n');
    if (eol > 0) {
      Journal.scan(head, eol + 1, 0, new Journal.Visitor() {
        @Override public void header(int format, long generation, long carriedBytes) {
          header[0] = format;
          header[1] = generation;
          header[2] = carriedBytes;
          header[3] = eol + 1;
        }
        @Override public void batch(String writer, long number, List<Journal.Record> records) {}
        @Override public boolean seal(long fileOffset, long generation, String writer, long renderedFrom) {
          return true;
        }
        @Override public void corrupt(long fileOffset, String reason) {}
        @Override public void interrupted(long fileOffset, String reason) {}
      });
    }
    if (header[0] < 0) {
      header[3] = eol >= 0 ? eol + 1 : firstLineEnd(fd, path); // damaged: see headerDamaged
      return header;
    }
    if (header[0] > Journal.FORMAT) {
      throw new CacheException("the journal is in format " + header[0] + ", written by a newer tiercache; this one"
          + " reads formats up to " + Journal.FORMAT + " and changes nothing", path);
    }
    return header;
  }

  /**
   * Appends {@code unit} in one {@code write(2)}: with {@code O_APPEND} the kernel places it after
   * every write that completed before, whole. A short write (a full disk) leaves a torn unit that
   * the next unit's leading line break terminates; it is reported as an {@link IOException}.
   */
  void append(byte[] unit) throws IOException {
    append(ByteBuffer.wrap(unit));
  }

  /**
   * As above, for the bytes of {@code unit} from position 0 to its limit: a direct buffer's memory as
   * it is, a heap buffer's array copied in by JNA.
   */
  void append(ByteBuffer unit) throws IOException {
    if (unit.position() != 0 || !unit.isDirect() && (!unit.hasArray() || unit.arrayOffset() != 0)) {
      throw new IllegalArgumentException("a unit is written from the start of its buffer");
    }
    int length = unit.limit();
    long n;
    try {
      n = unit.isDirect() ? Posix.write(fd, address(unit), length) : Posix.write(fd, unit.array(), length);
    } finally {
      Reference.reachabilityFence(unit);
    }
    if (n != length) {
      int errno = n < 0 ? Native.getLastError() : 0;
      throw new IOException(n < 0 ? "write failed: " + Posix.describe(errno)
          : "short write: " + n + " of " + length + " bytes (a full disk?)");
    }
  }

  private long address(ByteBuffer direct) {
    DirectAddress last = lastUnit;
    if (last.buffer != direct) {
      last = new DirectAddress(direct, Pointer.nativeValue(Native.getDirectBufferPointer(direct)));
      lastUnit = last;
    }
    return last.address;
  }

  /**
   * Forces the appended records to disk, unless this file was closed: false then. It excludes
   * {@link #close}, so it may run without the store's I/O lock (group commit) and never forces
   * another file that took the descriptor's number.
   */
  boolean forceIfOpen() throws IOException {
    use.readLock().lock();
    try {
      if (closed) {
        return false;
      }
      if (Posix.fsync(fd) != 0) {
        throw new IOException("fsync failed: " + Posix.lastError());
      }
      return true;
    } finally {
      use.readLock().unlock();
    }
  }

  long size() throws IOException {
    use.readLock().lock();
    try {
      requireOpen();
      long size = Posix.lseek(fd, 0, Posix.SEEK_END); // the offset moves; O_APPEND writes and pread ignore it
      if (size < 0) {
        throw new IOException("cannot size " + path + ": " + Posix.lastError());
      }
      return size;
    } finally {
      use.readLock().unlock();
    }
  }

  @GuardedBy("use")
  private void requireOpen() throws ClosedChannelException {
    if (closed) {
      throw new ClosedChannelException(); // switched and closed meanwhile: the reader's sync reads the new one
    }
  }

  /** Copies {@code [from, to)} into {@code out} at {@code at}; returns the bytes copied, fewer if the file is shorter. */
  long copyTo(long from, long to, FileChannel out, long at) throws IOException {
    use.readLock().lock();
    try {
      requireOpen();
      long done = 0;
      while (from + done < to) {
        byte[] chunk = pread(fd, path, from + done, (int) Math.min(to - from - done, 1 << 20));
        if (chunk.length == 0) {
          break;
        }
        FileOps.writeFully(out, ByteBuffer.wrap(chunk), at + done);
        done += chunk.length;
      }
      return done;
    } finally {
      use.readLock().unlock();
    }
  }

  /** Reads {@code [from, to)}; fewer bytes only if the file is shorter. */
  byte[] read(long from, long to) throws IOException {
    long length = to - from;
    if (length > Integer.MAX_VALUE - 8) {
      throw new IOException("journal segment over 2 GB");
    }
    use.readLock().lock();
    try {
      requireOpen();
      return pread(fd, path, from, (int) length);
    } finally {
      use.readLock().unlock();
    }
  }

  /** Up to {@code length} bytes at {@code at}, fewer only where the file ends. */
  private static byte[] pread(int fd, Path path, long at, int length) throws IOException {
    byte[] into = new byte[length];
    int done = 0;
    while (done < length) {
      byte[] target = done == 0 ? into : new byte[length - done]; // JNA reads into an array's start
      long n = Posix.pread(fd, target, length - done, at + done);
      if (n < 0 && Native.getLastError() == Posix.EINTR) {
        continue;
      }
      if (n < 0) {
        throw new IOException("cannot read " + path + ": " + Posix.lastError());
      }
      if (n == 0) {
        break;
      }
      if (target != into) {
        System.arraycopy(target, 0, into, done, (int) n);
      }
      done += (int) n;
    }
    return done == length ? into : Arrays.copyOf(into, done);
  }

  /** Whether {@code path} still names this file (it was not replaced by a newer journal). */
  boolean current() throws IOException {
    use.readLock().lock();
    try {
      return !closed && Files.isSameFile(path, Posix.fdPath(fd, path));
    } catch (NoSuchFileException e) {
      return false;
    } finally {
      use.readLock().unlock();
    }
  }

  /** Closes the file; once only, as its descriptor number may be another file's after. */
  @Override
  public void close() {
    use.writeLock().lock();
    try {
      if (!closed) {
        closed = true;
        Posix.close(fd);
      }
    } finally {
      use.writeLock().unlock();
    }
  }
}
