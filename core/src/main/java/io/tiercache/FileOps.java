package io.tiercache;

import com.sun.jna.Native;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.jspecify.annotations.Nullable;

/**
 * File handling done the Lucene way, and safe in a directory other users can write to.
 *
 * <p>Replacing: every replacement is written to a temporary file in the same directory, forced,
 * atomically renamed over the target, and the directory is forced; nothing is truncated in place.
 * A temporary file is locked by its writer until it is renamed, so a process cleaning up after a
 * crash removes only temporaries whose writer is gone.
 *
 * <p>Trusting: no cache file is opened through a symbolic link; new files are created exclusively,
 * with the configured permissions (owner-only by default: cached assets may carry API keys); an
 * existing file is used only if the file opened (whatever its name holds by then) is a regular file
 * with one link, owned by this process's user, and, when tiercache writes into it in place or maps it,
 * grants no more than the configured permissions. Anything else is refused with a {@link CacheException} naming the file and why:
 * another local user may have planted it. The directory itself is the caller's choice.
 */
record FileOps(Set<PosixFilePermission> filePermissions, Set<PosixFilePermission> directoryPermissions) {
  private static final System.Logger LOG = System.getLogger(FileOps.class.getName());
  static final boolean POSIX =
      java.nio.file.FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  private static final DateTimeFormatter STAMP =
      DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final int GROUP_OTHER_BITS = 0077;
  /** The random part of a temporary's name: 2^64 - 1 in base 36 has 13 digits. */
  private static final int RANDOM_DIGITS = 13;
  /**
   * This JVM's temporaries being written, which a cleanup of this class loader's copy of tiercache skips
   * without opening them. Not what keeps them: their writers' {@code flock} does (see {@link Flock}), which
   * another copy's scan, or one through another path to the directory, meets too.
   */
  private static final Set<Path> LIVE = ConcurrentHashMap.newKeySet();
  /** Tests only: runs between a descriptor's open and its check, where another user may change the name. */
  static volatile java.util.function.@Nullable Consumer<Path> betweenOpenAndCheck;

  /** This process's user id, read on first use (a JVM does not change it), not at every check. */
  private static final class User {
    static final int ID = Posix.geteuid();
  }

  /** What tiercache does with an existing file, which decides what the file must be. */
  enum Use {
    /** Read, or replaced by a rename: anyone's umask may have made it readable by others. */
    READ,
    /** Written in place or mapped: it must grant no one more than the configured permissions. */
    IN_PLACE
  }

  FileOps {
    if (!filePermissions.containsAll(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE))) {
      throw new IllegalArgumentException("file permissions must let the owner read and write (the cache does): "
          + PosixFilePermissions.toString(filePermissions));
    }
    if (!directoryPermissions.containsAll(Set.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE,
        PosixFilePermission.OWNER_EXECUTE))) {
      throw new IllegalArgumentException("directory permissions must give the owner rwx (the cache lists, creates"
          + " and renames files in it): " + PosixFilePermissions.toString(directoryPermissions));
    }
    filePermissions = Set.copyOf(filePermissions);
    directoryPermissions = Set.copyOf(directoryPermissions);
  }

  private static final FileOps OWNER_ONLY =
      new FileOps(PosixFilePermissions.fromString("rw-------"), PosixFilePermissions.fromString("rwx------"));

  static FileOps ownerOnly() {
    return OWNER_ONLY;
  }

  private FileAttribute<?>[] fileAttributes() {
    return POSIX ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(filePermissions)}
        : new FileAttribute<?>[0];
  }

  /** Creates {@code dir} and missing parents (those tiercache creates get the directory mode). */
  void createDirectories(Path dir) {
    try {
      if (Files.isDirectory(dir)) {
        return;
      }
      Path parent = dir.toAbsolutePath().getParent();
      if (parent != null && !Files.isDirectory(parent)) {
        createDirectories(parent);
      }
      try {
        if (POSIX) {
          Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(directoryPermissions));
          // The umask may have narrowed what we asked for; ask again explicitly.
          Files.setPosixFilePermissions(dir, directoryPermissions);
        } else {
          Files.createDirectory(dir);
        }
      } catch (FileAlreadyExistsException raced) {
        if (!Files.isDirectory(dir)) {
          throw new CacheException("the cache directory path is a file", dir, raced);
        }
      }
    } catch (AccessDeniedException e) {
      throw new CacheException("cannot create the cache directory: permission denied", dir, e);
    } catch (IOException e) {
      throw new CacheException("cannot create the cache directory", dir, e);
    }
  }

  // ---------------------------------------------------------------- opening

  /**
   * Opens an existing cache file without following a symbolic link, and checks that the file opened
   * may be trusted for {@code use}.
   *
   * @throws NoSuchFileException if it does not exist
   * @throws CacheException if it is not a file this process may trust, naming it and why
   */
  FileChannel open(Path file, Use use, OpenOption... options) throws IOException {
    Set<OpenOption> opts = new HashSet<>(Set.of(options));
    if (!POSIX) {
      opts.add(LinkOption.NOFOLLOW_LINKS);
      return FileChannel.open(file, opts);
    }
    // A FileChannel cannot be made from a descriptor: the checked one is opened again through /proc. O_PATH
    // opens nothing, so its close drops none of this JVM's fcntl locks on the file (another store's); where
    // there is none, a descriptor in the channel's own mode, the only one /dev/fd reopens in.
    boolean write = opts.contains(StandardOpenOption.WRITE) || opts.contains(StandardOpenOption.APPEND);
    int fd = openDescriptor(file, use, Posix.O_PATH != 0 ? Posix.O_PATH
        : !write ? Posix.O_RDONLY : opts.contains(StandardOpenOption.READ) ? Posix.O_RDWR : Posix.O_WRONLY);
    try {
      return FileChannel.open(Posix.fdPath(fd, file), opts);
    } catch (FileSystemException e) {
      throw (IOException) new FileSystemException(file.toString(), null, e.getReason()).initCause(e);
    } finally {
      Posix.close(fd);
    }
  }

  /** A channel, and a descriptor of the very file it has open (for {@link Flock}); -1 where not POSIX. */
  record Held(FileChannel channel, int fd) {
    /**
     * Closes both; the descriptor's close drops its {@code flock}. Again, nothing: the descriptor's number
     * may be another file's by then. Not thread-safe.
     */
    void close() throws IOException {
      if (channel.isOpen()) {
        if (fd >= 0) {
          Posix.close(fd);
        }
        channel.close();
      }
    }
  }

  /**
   * {@link #open}, keeping the checked descriptor for {@code flock} (read-only, which {@code flock} needs
   * no more than): the channel is opened through it, so both are the one file whatever its name holds.
   */
  Held openHeld(Path file, Use use, OpenOption... options) throws IOException {
    if (!POSIX) {
      return new Held(open(file, use, options), -1);
    }
    Set<OpenOption> opts = new HashSet<>(Set.of(options));
    boolean write = opts.contains(StandardOpenOption.WRITE) || opts.contains(StandardOpenOption.APPEND);
    int fd = openDescriptor(file, use, Posix.O_PATH != 0 || !write ? Posix.O_RDONLY
        : opts.contains(StandardOpenOption.READ) ? Posix.O_RDWR : Posix.O_WRONLY);
    try {
      return new Held(FileChannel.open(Posix.fdPath(fd, file), opts), fd);
    } catch (FileSystemException e) {
      Posix.close(fd);
      throw (IOException) new FileSystemException(file.toString(), null, e.getReason()).initCause(e);
    } catch (IOException | RuntimeException e) {
      Posix.close(fd);
      throw e;
    }
  }

  /**
   * {@link #create}, then {@link #openHeld} ({@link Use#IN_PLACE}).
   *
   * @throws NoSuchFileException if another process removed it in between
   */
  Held createHeld(Path file, OpenOption... options) throws IOException {
    if (!POSIX) {
      return new Held(create(file, options), -1);
    }
    create(file, options).close();
    return openHeld(file, Use.IN_PLACE, options);
  }

  /** {@link #openHeld} the file, or create it when it does not exist (whoever comes first). */
  Held openOrCreateHeld(Path file, Use use, OpenOption... options) throws IOException {
    while (true) {
      try {
        return openHeld(file, use, options);
      } catch (NoSuchFileException absent) {
        try {
          create(file, options).close();
        } catch (FileAlreadyExistsException raced) {
          // another process created it between our two calls: open theirs
        }
      }
    }
  }

  /**
   * A descriptor of the existing {@code file} opened with {@code flags}, never through a symbolic link
   * nor waiting (for a writer to a FIFO planted there), and checked as {@link #requireTrusted} says
   * through the descriptor itself: what the name holds by then does not matter. {@code O_NONBLOCK} stays
   * set: it changes nothing for a regular file (open(2)), and a descriptor that is not one is refused.
   *
   * @throws NoSuchFileException if it does not exist
   * @throws CacheException if it is not a file this process may trust, naming it and why
   */
  int openDescriptor(Path file, Use use, int flags) throws IOException {
    int fd = Posix.open(file.toString(), flags | Posix.O_NOFOLLOW | Posix.O_NONBLOCK | Posix.O_CLOEXEC);
    if (fd < 0) {
      int errno = Native.getLastError();
      if (errno == Posix.ENOENT) {
        throw new NoSuchFileException(file.toString());
      }
      requireTrusted(file, use); // names a link or a foreign file rather than ELOOP or EACCES; trusts nothing
      throw new FileSystemException(file.toString(), null, Posix.describe(errno));
    }
    try {
      java.util.function.Consumer<Path> race = betweenOpenAndCheck;
      if (race != null) {
        race.accept(file);
      }
      requireTrusted(FileStat.of(fd), file, use);
      return fd;
    } catch (IOException | RuntimeException e) {
      Posix.close(fd);
      throw e;
    }
  }

  /**
   * A descriptor of {@code file} that keeps it, and its blocks, after it is unlinked or renamed over,
   * until {@link Posix#close}d; -1 when it is gone, is a link, or the platform is not POSIX. Opened
   * without following a link and without blocking (a FIFO planted there), and never read.
   */
  static int holdOpen(Path file) {
    return POSIX ? Posix.open(file.toString(), Posix.O_RDONLY | Posix.O_NOFOLLOW | Posix.O_NONBLOCK | Posix.O_CLOEXEC)
        : -1;
  }

  /** A call that may throw {@code E}, for {@link #settingAsideInterrupt}. */
  interface Call<T, E extends Exception> {
    T call() throws E;
  }

  /**
   * Runs {@code call} with this thread's interrupt status cleared, and sets it again after. A
   * {@code FileChannel} closes itself, for every thread, at the first call an interrupted thread makes
   * (a caller's {@code Future.cancel(true)}, an executor's {@code shutdownNow}), which would fail the write
   * at once. An interrupt that arrives during the call still fails it, and loses nothing.
   */
  static <T, E extends Exception> T settingAsideInterrupt(Call<T, E> call) throws E {
    boolean interrupted = Thread.interrupted();
    try {
      return call.call();
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /**
   * {@code channel.force(false)}, through {@code fd} (a descriptor of the same file) where there is one:
   * a {@code FileChannel} closes itself, for every thread, when a thread inside one of its calls is
   * interrupted, and a force lasts long enough to be hit.
   */
  static void forceData(FileChannel channel, int fd) throws IOException {
    if (fd < 0) {
      channel.force(false);
      return;
    }
    while (Posix.fdatasync(fd) != 0) {
      if (Native.getLastError() != Posix.EINTR) {
        throw new IOException("fdatasync failed: " + Posix.lastError());
      }
    }
  }

  /** Writes all of {@code bytes} at file position {@code at}: a positional write may write less. */
  static void writeFully(FileChannel channel, ByteBuffer bytes, long at) throws IOException {
    while (bytes.hasRemaining()) {
      at += channel.write(bytes, at);
    }
  }

  /**
   * What {@code channel} (open on {@code file}) holds, to its end as it is now.
   *
   * @throws CacheException if the file is over 2 GB, more than one array holds
   */
  static byte[] readFully(FileChannel channel, Path file) throws IOException {
    long size = channel.size();
    if (size > Integer.MAX_VALUE - 8) {
      throw new CacheException("over 2 GB: too large to read whole", file);
    }
    ByteBuffer buf = ByteBuffer.allocate((int) size);
    while (buf.hasRemaining() && channel.read(buf) >= 0) {
      // read to the end
    }
    return buf.position() == buf.capacity() ? buf.array() : java.util.Arrays.copyOf(buf.array(), buf.position());
  }

  /**
   * Creates a cache file that must not exist yet ({@code O_CREAT | O_EXCL}, which follows no link),
   * with the configured permissions whatever the umask.
   *
   * @throws FileAlreadyExistsException if a file, link or anything else has that name
   */
  FileChannel create(Path file, OpenOption... options) throws IOException {
    Set<OpenOption> opts = new HashSet<>(Set.of(options));
    opts.add(StandardOpenOption.WRITE); // Java ignores CREATE_NEW on a file opened for reading only
    opts.add(StandardOpenOption.CREATE_NEW);
    opts.add(LinkOption.NOFOLLOW_LINKS);
    while (true) {
      FileChannel channel = FileChannel.open(file, opts, fileAttributes());
      try {
        setPermissions(file); // the umask may have taken some away
        return channel;
      } catch (NoSuchFileException unlinked) {
        channel.close(); // another process unlinked it already (the Python SDK does so to the lock): again
      } catch (IOException | RuntimeException e) {
        channel.close();
        throw e;
      }
    }
  }

  /** Through the link itself (O_NOFOLLOW, then fchmod): never the file a link planted meanwhile points to. */
  private void setPermissions(Path file) throws IOException {
    if (POSIX) {
      Files.getFileAttributeView(file, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
          .setPermissions(filePermissions);
    }
  }

  /** {@link #open} the file, or {@link #create} it when it does not exist (whoever comes first). */
  FileChannel openOrCreate(Path file, Use use, OpenOption... options) throws IOException {
    while (true) {
      try {
        return open(file, use, options);
      } catch (NoSuchFileException absent) {
        try {
          return create(file, options);
        } catch (FileAlreadyExistsException raced) {
          // another process created it between our two calls: open theirs
        }
      }
    }
  }

  /**
   * Checks, without following a link, what {@code file} names now (for a file another library opens
   * by name: tiercache's own are checked as opened, see {@link #openDescriptor}). A missing file passes.
   *
   * @throws CacheException naming the file and what is wrong with it
   */
  void requireTrusted(Path file, Use use) {
    if (!POSIX) {
      return;
    }
    FileStat a;
    try {
      a = FileStat.ofLink(file);
    } catch (IOException | UnsupportedOperationException e) {
      throw new CacheException("cannot check the file", file, e);
    }
    if (a != null) {
      requireTrusted(a, file, use);
    }
  }

  /**
   * Checks that {@code a}, what {@code file} was found to be, is a regular file with at most one link,
   * owned by this process's user, and for {@link Use#IN_PLACE} granting nothing beyond the configured
   * permissions.
   */
  private void requireTrusted(FileStat a, Path file, Use use) {
    if (a.type() == FileStat.SYMBOLIC_LINK) {
      throw new CacheException("refusing a symbolic link where a cache file belongs (another user may have"
          + " planted it); remove it", file);
    }
    if (a.type() != FileStat.REGULAR) {
      throw new CacheException("refusing something that is not a regular file where a cache file belongs", file);
    }
    int uid = a.uid();
    int self = User.ID;
    if (uid != self) {
      throw new CacheException("refusing a file owned by user " + uid + ", not by this process's user " + self
          + " (another user may have planted it)", file);
    }
    int links = a.nlink();
    // No link: this process's own file, unlinked since it was opened (or looked up).
    if (links > 1) {
      throw new CacheException("refusing a file with " + links + " hard links (another name may expose what is"
          + " written to it)", file);
    }
    if (use == Use.IN_PLACE) {
      int allowed = toMode(filePermissions) & GROUP_OTHER_BITS;
      int extra = a.mode() & GROUP_OTHER_BITS & ~allowed;
      if (extra != 0) {
        throw new CacheException("refusing a file that grants " + PosixFilePermissions.toString(fromMode(extra))
            + " beyond the configured " + PosixFilePermissions.toString(filePermissions)
            + " (others could read or change what is written to it)", file);
      }
    }
  }

  private static int toMode(Set<PosixFilePermission> permissions) {
    int mode = 0;
    for (PosixFilePermission p : permissions) {
      mode |= 0400 >> p.ordinal(); // OWNER_READ is ordinal 0 ... OTHERS_EXECUTE is 8
    }
    return mode;
  }

  private static Set<PosixFilePermission> fromMode(int mode) {
    Set<PosixFilePermission> permissions = new HashSet<>();
    for (PosixFilePermission p : PosixFilePermission.values()) {
      if ((mode & (0400 >> p.ordinal())) != 0) {
        permissions.add(p);
      }
    }
    return permissions;
  }

  // ---------------------------------------------------------------- replacing

  /**
   * Replaces {@code target} with {@code bytes[0, length)} atomically and durably: a reader sees
   * the old file or the new one, never a mix, and after a crash one of the two survives whole.
   */
  void atomicWrite(Path target, byte[] bytes, int length) {
    try (Temporary temp = writeTemporary(target, bytes, length)) {
      temp.replace(target);
    }
  }

  /**
   * The first half of {@link #atomicWrite}: {@code bytes[0, length)} in a forced temporary file next
   * to {@code target} ({@code <target>.<random>.tmp}), locked until it is renamed or closed.
   */
  Temporary writeTemporary(Path target, byte[] bytes, int length) {
    Temporary temp = createTemporary(target);
    try {
      ByteBuffer buf = ByteBuffer.wrap(bytes, 0, length);
      while (buf.hasRemaining()) {
        temp.channel.write(buf);
      }
      temp.channel.force(true);
      return temp;
    } catch (IOException e) {
      temp.close();
      throw new CacheException("cannot write " + target.getFileName(), target, e);
    } catch (RuntimeException | Error e) {
      temp.close();
      throw e;
    }
  }

  /** An empty temporary file next to {@code target}, created exclusively and locked by this process. */
  Temporary createTemporary(Path target) {
    Path dir = target.toAbsolutePath().normalize().getParent();
    while (true) {
      Path path = dir.resolve(target.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36) + ".tmp");
      if (!LIVE.add(path)) {
        continue; // this JVM's own, being written
      }
      try {
        Held held = createHeld(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock windowsLock = null;
        boolean removed = false;
        try {
          if (held.fd() >= 0) {
            Flock.lock(held.fd(), Posix.LOCK_EX, path);
            removed = !FileStat.of(held.fd()).sameFile(FileStat.ofLink(path));
          } else {
            windowsLock = held.channel().lock();
          }
        } catch (IOException | RuntimeException e) {
          held.close();
          Files.deleteIfExists(path);
          throw e;
        }
        if (!removed) {
          return new Temporary(path, held, windowsLock);
        }
        held.close(); // another process's scan removed it before the lock was taken: its name is free again
        LIVE.remove(path);
      } catch (FileAlreadyExistsException | NoSuchFileException collision) {
        // 64 random bits met a name already there (or a planted one), or another process's scan removed
        // the new file before its lock was taken: draw again
        LIVE.remove(path);
      } catch (IOException e) {
        LIVE.remove(path);
        throw new CacheException("cannot create a temporary file for " + target.getFileName(), target, e);
      } catch (RuntimeException e) {
        LIVE.remove(path);
        throw e;
      }
    }
  }

  /**
   * A temporary file being written: its writer holds an exclusive {@code flock} on it ({@link Flock};
   * on Windows a {@code FileChannel} lock) until it is renamed over its target or deleted, which tells
   * {@link #removeStaleTemporaries} it is not a leftover.
   */
  static final class Temporary implements AutoCloseable {
    final Path path;
    final FileChannel channel;
    private final Held held;
    /** Windows only: the {@code FileChannel} lock standing in for the {@code flock}. */
    private final @Nullable FileLock windowsLock;
    private boolean done;

    Temporary(Path path, Held held, @Nullable FileLock windowsLock) {
      this.path = path;
      this.channel = held.channel();
      this.held = held;
      this.windowsLock = windowsLock;
    }

    /**
     * Renames this file over {@code target} and forces the directory. A temporary that is gone is
     * reported as a {@link NoSuchFileException} cause.
     */
    void replace(Path target) {
      replace(target, true);
    }

    /**
     * Renames this file over {@code target}; {@code durable} forces the directory, so the rename
     * survives a power loss (a copy whose loss costs nothing, such as an export, need not).
     */
    void replace(Path target, boolean durable) {
      try {
        Files.move(path, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        done = true;
        if (durable) {
          fsyncDirectory(target.toAbsolutePath().getParent());
        }
      } catch (IOException e) {
        throw new CacheException("cannot write " + target.getFileName(), target, e);
      } finally {
        close();
      }
    }

    /** Deletes the file unless it was renamed, and releases it. */
    @Override
    public void close() {
      try {
        if (!done) {
          done = true;
          Files.deleteIfExists(path);
        }
      } catch (IOException e) {
        LOG.log(System.Logger.Level.WARNING, "tiercache: cannot remove temporary file " + path, e);
      } finally {
        try {
          if (windowsLock != null && windowsLock.isValid()) {
            windowsLock.release();
          }
          held.close();
        } catch (IOException e) {
          LOG.log(System.Logger.Level.WARNING, "tiercache: cannot close temporary file " + path, e);
        } finally {
          LIVE.remove(path);
        }
      }
    }
  }

  /**
   * Removes the temporary files of the {@code targets} ({@code <target>.<random>.tmp}, all in one
   * directory) whose writer is gone: a live writer holds a lock on its temporary, so only a crash's
   * leftovers are removed. Probing a writer's {@code flock} from a descriptor of its own drops nothing,
   * whether the writer is another process, this JVM reached through another path to the directory, or
   * another copy of tiercache in this JVM.
   */
  void removeStaleTemporaries(Path... targets) {
    Path dir = targets[0].toAbsolutePath().normalize().getParent();
    // java.io's list: names in one native call, where a directory stream makes a Path of each entry
    // (70 against 20 us interpreted, and every open lists the directory).
    String[] names = dir.toFile().list();
    if (names == null) {
      throw new CacheException("cannot list temporary files: not a directory, or not readable", dir);
    }
    for (String name : names) {
      if (isTemporaryOf(name, targets) && !LIVE.contains(dir.resolve(name))) {
        try {
          removeIfAbandoned(dir.resolve(name));
        } catch (IOException e) {
          throw new CacheException("cannot remove a temporary file", dir.resolve(name), e);
        }
      }
    }
  }

  /**
   * Exactly {@code <target>.<random>.tmp} as {@link #createTemporary} names it: a name match, not a glob
   * (the cache name may hold glob characters), and not a prefix, which would take in another cache's
   * temporaries ({@code m.json.snapshot.<random>.tmp} of cache {@code m.json} for cache {@code m}).
   */
  private static boolean isTemporaryOf(String name, Path[] targets) {
    int end = name.length() - ".tmp".length();
    if (!name.endsWith(".tmp")) {
      return false;
    }
    for (Path target : targets) {
      String prefix = target.getFileName() + ".";
      int from = prefix.length();
      if (end > from && end - from <= RANDOM_DIGITS && name.startsWith(prefix) && base36(name, from, end)) {
        return true;
      }
    }
    return false;
  }

  private static boolean base36(String s, int from, int to) {
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (!(c >= '0' && c <= '9' || c >= 'a' && c <= 'z')) {
        return false;
      }
    }
    return true;
  }

  private void removeIfAbandoned(Path temp) throws IOException {
    try {
      if (POSIX) {
        int fd = openDescriptor(temp, Use.READ, Posix.O_RDONLY);
        try {
          if (!Flock.tryLock(fd, Posix.LOCK_EX, temp)) {
            return; // its writer is alive
          }
          Files.deleteIfExists(temp);
        } finally {
          Posix.close(fd); // drops the flock, and nothing else's
        }
      } else {
        try (FileChannel channel = open(temp, Use.READ, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
          FileLock lock = lockIfAbandoned(channel);
          if (lock == null) {
            return;
          }
          try {
            Files.deleteIfExists(temp);
          } finally {
            lock.release();
          }
        }
      }
      LOG.log(System.Logger.Level.INFO, "tiercache: removed " + temp + " left by an interrupted write");
    } catch (NoSuchFileException renamedMeanwhile) {
      // its writer finished
    } catch (CacheException notOurs) {
      // a planted file is not ours to delete; it is never read either
      LOG.log(System.Logger.Level.WARNING, "tiercache: left " + temp + " alone: " + notOurs.getMessage());
    }
  }

  /**
   * Windows only (see {@link Flock}): an exclusive lock on the file of {@code channel}, whose writer holds
   * one while it is alive; null while it does (in another process or in this JVM).
   */
  static @Nullable FileLock lockIfAbandoned(FileChannel channel) throws IOException {
    try {
      return channel.tryLock();
    } catch (OverlappingFileLockException writerInThisJvm) {
      return null;
    }
  }

  /** Forces a directory's entries (a rename is durable only once its directory is). */
  static void fsyncDirectory(Path dir) {
    if (!POSIX) {
      return; // Windows cannot open a directory for reading; NTFS journals renames.
    }
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    } catch (IOException e) {
      throw new CacheException("cannot fsync the cache directory", dir, e);
    }
  }

  /**
   * Moves a damaged file aside as {@code <file>.corrupt-<UTC timestamp>} and logs a warning
   * naming both paths. Nothing is deleted.
   */
  static Path moveAside(Path file, String reason) {
    Path aside = file.resolveSibling(file.getFileName() + ".corrupt-" + STAMP.format(java.time.Instant.now()));
    try {
      Files.move(file, aside, StandardCopyOption.ATOMIC_MOVE);
      fsyncDirectory(file.toAbsolutePath().getParent());
    } catch (IOException e) {
      throw new CacheException("cannot move the damaged file aside (" + reason + ")", file, e);
    }
    LOG.log(System.Logger.Level.WARNING,
        "tiercache: " + file + " is damaged (" + reason + "); moved it to " + aside + " and started empty");
    return aside;
  }
}
