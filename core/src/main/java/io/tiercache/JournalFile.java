package io.tiercache;

import com.sun.jna.Native;
import com.sun.jna.Pointer;
import java.io.IOException;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One open journal file: a descriptor every write goes through with {@code O_APPEND} (so writers in
 * other processes never overwrite each other, whatever happens to any lock), and a channel that
 * reads the very same file. A journal is replaced by renaming a new file over its name; this object
 * keeps the one it opened.
 */
final class JournalFile implements AutoCloseable {
  final Path path;
  private final int fd;
  final FileChannel reader;
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
  private boolean closed;
  /** The direct buffer last written from and its address: the appender reuses one, and asking JNA is a JNI call. */
  private DirectAddress lastUnit = new DirectAddress(null, 0);

  /** Final fields: a thread that reads a record another thread wrote sees both, never a buffer with a wrong address. */
  private record DirectAddress(@Nullable ByteBuffer buffer, long address) {}

  private JournalFile(Path path, int fd, FileChannel reader, long[] header) {
    this.path = path;
    this.fd = fd;
    this.reader = reader;
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
    // Read and write: where there is no /proc, /dev/fd opens the reader only in the descriptor's own mode.
    int fd = files.openDescriptor(path, FileOps.Use.IN_PLACE, Posix.O_RDWR | Posix.O_APPEND);
    FileChannel reader = null;
    try {
      reader = FileChannel.open(Posix.fdPath(fd, path), StandardOpenOption.READ); // the descriptor's file
      long[] header = readHeader(reader, path);
      return new JournalFile(path, fd, reader, header);
    } catch (IOException | RuntimeException e) {
      if (reader != null) {
        reader.close();
      }
      Posix.close(fd);
      throw e;
    }
  }

  /** Where the second line starts: after the first line break, or at the end. */
  private static long firstLineEnd(FileChannel reader) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(64 << 10);
    for (long at = 0; ; at += buf.position()) {
      buf.clear();
      if (reader.read(buf, at) <= 0) {
        return at;
      }
      int eol = Journal.indexOf(buf.array(), 0, buf.position(), (byte) '\n');
      if (eol >= 0) {
        return at + eol + 1;
      }
    }
  }

  /** format, generation, carried bytes, header length. */
  private static long[] readHeader(FileChannel reader, Path path) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(128);
    reader.read(buf, 0);
    long[] header = {-1, -1, 0, 0};
    int eol = Journal.indexOf(buf.array(), 0, buf.position(), (byte) '\n');
    if (eol > 0) {
      Journal.scan(buf.array(), eol + 1, 0, new Journal.Visitor() {
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
      header[3] = eol >= 0 ? eol + 1 : firstLineEnd(reader); // damaged: see headerDamaged
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
      throw new IOException(n < 0 ? "write failed: " + Posix.strerror(errno) + " (errno " + errno + ")"
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
  synchronized boolean forceIfOpen() throws IOException {
    if (closed) {
      return false;
    }
    if (Posix.fsync(fd) != 0) {
      int errno = Native.getLastError();
      throw new IOException("fsync failed: " + Posix.strerror(errno) + " (errno " + errno + ")");
    }
    return true;
  }

  long size() throws IOException {
    return reader.size();
  }

  /** Copies {@code [from, to)} into {@code out} at {@code at}, in the kernel; returns the bytes copied. */
  long copyTo(long from, long to, FileChannel out, long at) throws IOException {
    out.position(at);
    long done = 0;
    while (from + done < to) {
      long n = reader.transferTo(from + done, to - from - done, out);
      if (n <= 0) {
        break; // the file is shorter
      }
      done += n;
    }
    return done;
  }

  /** Reads {@code [from, to)}; fewer bytes only if the file is shorter. */
  byte[] read(long from, long to) throws IOException {
    long length = to - from;
    if (length > Integer.MAX_VALUE - 8) {
      throw new IOException("journal segment over 2 GB");
    }
    ByteBuffer buf = ByteBuffer.allocate((int) length);
    while (buf.hasRemaining()) {
      if (reader.read(buf, from + buf.position()) < 0) {
        break;
      }
    }
    return buf.position() == buf.capacity() ? buf.array() : Arrays.copyOf(buf.array(), buf.position());
  }

  /** Whether {@code path} still names this file (it was not replaced by a newer journal). */
  boolean current() throws IOException {
    try {
      return Files.isSameFile(path, Posix.fdPath(fd, path));
    } catch (NoSuchFileException e) {
      return false;
    }
  }

  /** Closes the file; once only, as its descriptor number may be another file's after. */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    try {
      reader.close();
    } catch (IOException e) {
      throw new CacheException("cannot close the journal", path, e);
    } finally {
      Posix.close(fd);
    }
  }
}
