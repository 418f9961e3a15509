package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The file rules against files planted for real: links, hard links, other users' files, loose
 * permissions; and temporary files, which only their writer's death makes removable.
 */
class FileOpsTest {
  @TempDir Path dir;
  @TempDir Path outside;
  final FileOps files = FileOps.ownerOnly();

  private Path victim() throws Exception {
    Path victim = outside.resolve("victim.txt");
    Files.writeString(victim, "precious");
    return victim;
  }

  private static void assertUntouched(Path victim) throws Exception {
    assertThat(Files.readString(victim, UTF_8)).isEqualTo("precious");
  }

  @Test
  void aSymbolicLinkIsNeverFollowedAndIsNamedAsSuch() throws Exception {
    Path victim = victim();
    Path planted = dir.resolve("c.journal");
    Files.createSymbolicLink(planted, victim);
    for (FileOps.Use use : FileOps.Use.values()) {
      assertThatThrownBy(() -> files.open(planted, use, StandardOpenOption.WRITE, StandardOpenOption.APPEND))
          .isInstanceOf(CacheException.class).hasMessageContaining("symbolic link")
          .hasMessageContaining(planted.toString());
      assertThatThrownBy(() -> files.openOrCreate(planted, use, StandardOpenOption.WRITE))
          .isInstanceOf(CacheException.class).hasMessageContaining("symbolic link");
    }
    assertThatThrownBy(() -> files.create(planted)).isInstanceOf(FileAlreadyExistsException.class);
    assertUntouched(victim);

    Path dangling = dir.resolve("c.cmap");
    Files.createSymbolicLink(dangling, outside.resolve("would-be-created"));
    assertThatThrownBy(() -> files.openOrCreate(dangling, FileOps.Use.IN_PLACE, StandardOpenOption.WRITE))
        .isInstanceOf(CacheException.class).hasMessageContaining("symbolic link");
    assertThat(outside.resolve("would-be-created")).doesNotExist();
  }

  @Test
  void aHardLinkToAnotherFileIsRefused() throws Exception {
    Path victim = victim();
    Path planted = dir.resolve("c.journal");
    Files.createLink(planted, victim);
    assertThatThrownBy(() -> files.open(planted, FileOps.Use.READ, StandardOpenOption.READ))
        .isInstanceOf(CacheException.class).hasMessageContaining("2 hard links");
    assertUntouched(victim);
  }

  @Test
  void anotherUsersFileIsRefused() throws Exception {
    assumeThat(Posix.geteuid()).as("chown to another user needs root").isZero();
    Path planted = dir.resolve("c.journal");
    Files.writeString(planted, "planted");
    Files.setAttribute(planted, "unix:uid", 65534, LinkOption.NOFOLLOW_LINKS);
    assertThatThrownBy(() -> files.open(planted, FileOps.Use.READ, StandardOpenOption.READ))
        .isInstanceOf(CacheException.class).hasMessageContaining("owned by user 65534");
    assertThat(Files.readString(planted)).isEqualTo("planted");
  }

  @Test
  void filesWrittenInPlaceMayGrantNoMoreThanTheConfiguredPermissions() throws Exception {
    Path loose = dir.resolve("c.journal");
    Files.writeString(loose, "");
    Files.setPosixFilePermissions(loose, PosixFilePermissions.fromString("rw-rw-rw-"));
    assertThatThrownBy(() -> files.open(loose, FileOps.Use.IN_PLACE, StandardOpenOption.WRITE))
        .isInstanceOf(CacheException.class).hasMessageContaining("grants").hasMessageContaining("rw-rw-");
    // A file only read (and replaced by rename), such as the Python SDK's 0644 snapshot, is fine.
    Files.setPosixFilePermissions(loose, PosixFilePermissions.fromString("rw-r--r--"));
    files.open(loose, FileOps.Use.READ, StandardOpenOption.READ).close();
    // So is what the configuration itself allows.
    new FileOps(PosixFilePermissions.fromString("rw-r--r--"), PosixFilePermissions.fromString("rwx------"))
        .open(loose, FileOps.Use.IN_PLACE, StandardOpenOption.WRITE).close();
  }

  @Test
  void createdFilesHaveTheConfiguredPermissionsWhateverTheUmask() throws Exception {
    Path file = dir.resolve("new.journal");
    files.create(file).close();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");
    assertThatThrownBy(() -> files.create(file)).isInstanceOf(FileAlreadyExistsException.class);
  }

  @Test
  void aLiveTemporaryOfAnotherProcessIsNeverRemovedAnAbandonedOneIs() throws Exception {
    Path live = dir.resolve("c.json.live.tmp");
    Path abandoned = dir.resolve("c.json.abandoned.tmp");
    Files.writeString(live, "being written");
    Files.writeString(abandoned, "left by a crash");
    // Another process writing a temporary holds a flock on it, as FileOps.createTemporary does.
    Process writer = new ProcessBuilder("python3", "-c",
        "import fcntl,sys\nf=open(sys.argv[1],'r+')\nfcntl.flock(f,fcntl.LOCK_EX)\nprint('locked',flush=True)\n"
            + "sys.stdin.readline()\n", live.toString()).start();
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(writer.getInputStream(), UTF_8));
      assertThat(out.readLine()).isEqualTo("locked");
      files.removeStaleTemporaries(dir.resolve("c.json"));
      assertThat(live).as("its writer is alive").exists();
      assertThat(abandoned).as("its writer is gone").doesNotExist();
    } finally {
      writer.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    files.removeStaleTemporaries(dir.resolve("c.json"));
    assertThat(live).as("once its writer died").doesNotExist();
  }

  @Test
  void onlyTheTargetsTemporariesAreRemovedWhateverTheNameHolds() throws Exception {
    Path globName = Files.writeString(dir.resolve("m[1.json.abc.tmp"), "left by a crash");
    Path otherCache = Files.writeString(dir.resolve("m.json.abc.tmp"), "another cache's");
    Path noRandomPart = Files.writeString(dir.resolve("m[1.json.tmp"), "the user's");
    Path notTemporary = Files.writeString(dir.resolve("m[1.json.abc.tmp.bak"), "the user's");
    // Cache "m[1.json"'s snapshot temporary, and a user's backup: the target's name is only their prefix.
    Path cacheNamedLikeAFile = Files.writeString(dir.resolve("m[1.json.snapshot.abc.tmp"), "another cache's");
    Path backup = Files.writeString(dir.resolve("m[1.json.bak.abc.tmp"), "the user's");
    files.removeStaleTemporaries(dir.resolve("m[1.json"), dir.resolve("m[1.journal"));
    assertThat(globName).doesNotExist();
    assertThat(otherCache).exists();
    assertThat(noRandomPart).exists();
    assertThat(notTemporary).exists();
    assertThat(cacheNamedLikeAFile).exists();
    assertThat(backup).exists();
  }

  @Test
  void aScanForACacheWhoseNameIsAPrefixLeavesTheOthersLiveTemporaryLocked() throws Exception {
    // Cache "m.json" renders its snapshot while cache "m" opens in the same JVM.
    FileOps.Temporary live = files.writeTemporary(dir.resolve("m.json.snapshot"), "x".getBytes(UTF_8), 1);
    try {
      files.removeStaleTemporaries(dir.resolve("m.json"), dir.resolve("m.snapshot"), dir.resolve("m.journal"));
      assertThat(live.path).exists();
      assertThat(lockedByAnotherProcess(live.path)).isTrue();
    } finally {
      live.close();
    }
  }

  /** Whether a child process's {@code flock} attempt on {@code file}, as a scan takes, finds it held (by this JVM). */
  private static boolean lockedByAnotherProcess(Path file) throws Exception {
    Process probe = new ProcessBuilder("python3", "-c",
        "import fcntl,sys\nf=open(sys.argv[1],'r+')\ntry:\n fcntl.flock(f,fcntl.LOCK_EX|fcntl.LOCK_NB)\n"
            + " print('free')\nexcept OSError:\n print('held')\n", file.toString()).redirectErrorStream(true).start();
    try {
      assertThat(probe.waitFor(30, TimeUnit.SECONDS)).isTrue();
      String out = new String(probe.getInputStream().readAllBytes(), UTF_8).trim();
      assertThat(out).isIn("held", "free");
      return out.equals("held");
    } finally {
      probe.destroyForcibly();
    }
  }

  // ---------------------------------------------------------------- what was opened, not what the name holds

  private static void mkfifo(Path path) throws Exception {
    assertThat(new ProcessBuilder("mkfifo", path.toString()).start().waitFor()).isZero();
  }

  private static boolean isFifo(Path path) throws Exception {
    return ((Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS) & FileStat.TYPE_MASK) == 0010000;
  }

  /** {@code bytes} in a new file at {@code path} owned by another user (chown needs root). */
  private static Path plantForeign(Path path, byte[] bytes) throws Exception {
    Path staged = Files.write(path.resolveSibling(path.getFileName() + ".staged"), bytes);
    Files.setAttribute(staged, "unix:uid", 65534, LinkOption.NOFOLLOW_LINKS);
    Files.setPosixFilePermissions(staged, PosixFilePermissions.fromString("rw-rw-rw-"));
    return Files.move(staged, path, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
  }

  @Test
  void aFifoIsRefusedWithoutWaitingForAWriter() throws Exception {
    Path fifo = dir.resolve("c.json");
    mkfifo(fifo);
    assertTimeoutPreemptively(Duration.ofSeconds(10), () -> {
      for (FileOps.Use use : FileOps.Use.values()) {
        assertThatThrownBy(() -> files.open(fifo, use, StandardOpenOption.READ)).isInstanceOf(CacheException.class)
            .hasMessageContaining("not a regular file").hasMessageContaining(fifo.toString());
        assertThatThrownBy(() -> files.openOrCreate(fifo, use, StandardOpenOption.READ, StandardOpenOption.WRITE))
            .isInstanceOf(CacheException.class).hasMessageContaining("not a regular file");
      }
      assertThatThrownBy(() -> JournalFile.open(fifo, files)).isInstanceOf(CacheException.class)
          .hasMessageContaining("not a regular file");
      try (LockFile lock = LockFile.existing(fifo, Duration.ofSeconds(1), files)) {
        assertThatThrownBy(lock::tryLock).isInstanceOf(CacheException.class).hasMessageContaining("not a regular file");
      }
    });
    assertThat(isFifo(fifo)).as("left as it is").isTrue();
  }

  @Test
  void aFileUnlinkedBetweenItsOpenAndItsCheckIsJudgedAsOpened() throws Exception {
    assumeThat(Posix.geteuid()).as("chown to another user needs root").isZero();
    Path planted = plantForeign(dir.resolve("c.json"), "ATTACKER".getBytes(UTF_8));
    FileOps.betweenOpenAndCheck = file -> {
      try {
        Files.deleteIfExists(file); // its owner covers the tracks: the name is free again
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    };
    try {
      assertThatThrownBy(() -> files.open(planted, FileOps.Use.READ, StandardOpenOption.READ))
          .isInstanceOf(CacheException.class).hasMessageContaining("owned by user 65534")
          .hasMessageContaining(planted.toString());
    } finally {
      FileOps.betweenOpenAndCheck = null;
    }
  }

  @Test
  void aJournalOrLockSwappedForAnotherUsersIsNeverWrittenNorLocked() throws Exception {
    assumeThat(Posix.geteuid()).as("chown to another user needs root").isZero();
    byte[] theirs = Journal.header(4242, 0);
    for (String name : new String[] {"c.journal", "c.lock"}) {
      Path file = dir.resolve(name);
      files.create(file).close();
      Files.write(file, Journal.header(1, 0));
      boolean[] swapped = {false};
      // The name is ours when first looked at, another user's just after.
      FileOps.betweenOpenAndCheck = f -> {
        try {
          if (!swapped[0]) {
            swapped[0] = true;
            plantForeign(f, theirs);
          }
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      };
      try {
        if (name.endsWith(".journal")) {
          try (JournalFile journal = JournalFile.open(file, files)) {
            assertThat(journal.generation).as("the file opened, ours").isEqualTo(1);
            journal.append("\nsecret\n".getBytes(UTF_8));
          }
        } else {
          try (LockFile lock = new LockFile(file, Duration.ofMillis(200), files)) {
            // Ours is locked, found replaced, and let go; theirs is then refused.
            assertThatThrownBy(lock::lock).isInstanceOf(CacheException.class)
                .hasMessageContaining("owned by user 65534");
          }
        }
      } finally {
        FileOps.betweenOpenAndCheck = null;
      }
      assertThat(swapped[0]).isTrue();
      assertThat(Files.readAllBytes(file)).as(name + ": theirs, untouched").isEqualTo(theirs);
    }
  }

  @Test
  void aDirectoryThatCannotBeListedIsNamed() {
    Path missing = dir.resolve("gone");
    assertThatThrownBy(() -> files.removeStaleTemporaries(missing.resolve("c.json")))
        .isInstanceOf(CacheException.class)
        .hasMessageContaining("cannot list temporary files")
        .hasMessageContaining(missing.toString());
  }

  @Test
  void aTemporaryIsLockedByItsWriterUntilRenamed() throws Exception {
    Path target = dir.resolve("c.json");
    FileOps.Temporary temp = files.writeTemporary(target, "{}".getBytes(UTF_8), 2);
    files.removeStaleTemporaries(dir.resolve("c.json"));
    assertThat(temp.path).exists();
    assertThat(lockedByAnotherProcess(temp.path)).as("this JVM's scan kept its writer's lock").isTrue();
    temp.replace(target);
    assertThat(Files.readString(target)).isEqualTo("{}");
    assertThat(temp.path).doesNotExist();
    try (FileChannel ch = files.open(target, FileOps.Use.IN_PLACE, StandardOpenOption.READ)) {
      assertThat(ch.size()).isEqualTo(2);
    }
  }
  @Test
  void aHeldFileIsNeverFollowedNorWaitedOnAndOutlivesItsName() throws Exception {
    // A FIFO planted where a file was expected: an open that blocks would wait for a writer forever.
    Path fifo = dir.resolve("planted.json");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    int onFifo = org.junit.jupiter.api.Assertions.assertTimeoutPreemptively(java.time.Duration.ofSeconds(10),
        () -> FileOps.holdOpen(fifo));
    assertThat(onFifo).isNotNegative();
    Posix.close(onFifo);

    Path target = outside.resolve("theirs");
    Files.writeString(target, "theirs");
    Path link = Files.createSymbolicLink(dir.resolve("link.json"), target);
    assertThat(FileOps.holdOpen(link)).as("a link is not followed").isEqualTo(-1);
    assertThat(FileOps.holdOpen(dir.resolve("missing.json"))).isEqualTo(-1);

    Path file = dir.resolve("c.json");
    Files.writeString(file, "old");
    int held = FileOps.holdOpen(file);
    Path next = Files.writeString(dir.resolve("c.json.tmp"), "new");
    Files.move(next, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThat(Files.readString(Path.of("/proc/self/fd/" + held))).as("renamed over, still held").isEqualTo("old");
    assertThat(Posix.close(held)).isZero();
  }

  // ---------------------------------------------------------------- a writer's lock that no other close drops

  /** Another process's scan for {@code target}'s temporaries: tiercache's own, in a child JVM. */
  private static void scanFromAnotherProcess(Path target) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    Process scan = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), FileOpsTest.class.getName(),
        target.toString()).redirectErrorStream(true).start();
    try {
      assertThat(scan.waitFor(60, TimeUnit.SECONDS)).as("the scanning JVM ended").isTrue();
      String out = new String(scan.getInputStream().readAllBytes(), UTF_8);
      assertThat(scan.exitValue()).as(out).isZero();
    } finally {
      scan.destroyForcibly();
    }
  }

  /** The child JVM of {@link #scanFromAnotherProcess}. */
  public static void main(String[] args) {
    FileOps.ownerOnly().removeStaleTemporaries(Path.of(args[0]));
  }

  /**
   * This JVM scans the directory through another path (a symbolic link to it, a {@code ..}): it
   * opens its own live temporary under a name its set of live ones does not hold. That scan's close
   * dropped the writer's {@code fcntl} lock, and another process's scan then removed the temporary
   * being written.
   */
  @Test
  void aScanThroughAnotherPathToTheDirectoryLeavesThisJvmsLiveTemporaryToAnotherProcessesScan() throws Exception {
    Path real = Files.createDirectory(dir.resolve("real"));
    Path alias = Files.createSymbolicLink(dir.resolve("alias"), real);
    Files.createDirectory(dir.resolve("sub"));
    try (FileOps.Temporary live = files.createTemporary(real.resolve("c.json"))) {
      files.removeStaleTemporaries(alias.resolve("c.json"));
      files.removeStaleTemporaries(Path.of(dir.toString(), "sub", "..", "real", "c.json"));
      scanFromAnotherProcess(real.resolve("c.json"));
      assertThat(live.path).as("being written").exists();
    }
  }

  /**
   * Two copies of tiercache in one JVM (two web apps of a servlet container), each with its own set
   * of live temporaries: one copy's scan of the directory dropped the other copy's writer lock, and
   * another process's scan then removed the temporary being written.
   */
  @Test
  void anotherClassLoadersScanLeavesItsLiveTemporaryToAnotherProcessesScan() throws Exception {
    java.util.List<java.net.URL> urls = new java.util.ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      urls.add(Path.of(entry).toUri().toURL());
    }
    try (java.net.URLClassLoader other = new java.net.URLClassLoader(urls.toArray(java.net.URL[]::new),
        ClassLoader.getPlatformClassLoader())) {
      Class<?> theirFileOps = other.loadClass(FileOps.class.getName());
      assertThat(theirFileOps).isNotSameAs(FileOps.class);
      java.lang.reflect.Method ownerOnly = theirFileOps.getDeclaredMethod("ownerOnly");
      java.lang.reflect.Method create = theirFileOps.getDeclaredMethod("createTemporary", Path.class);
      ownerOnly.setAccessible(true);
      create.setAccessible(true);
      AutoCloseable temp = (AutoCloseable) create.invoke(ownerOnly.invoke(null), dir.resolve("c.json"));
      try {
        java.lang.reflect.Field pathField = temp.getClass().getDeclaredField("path");
        pathField.setAccessible(true);
        Path live = (Path) pathField.get(temp);
        files.removeStaleTemporaries(dir.resolve("c.json")); // this copy opens the same cache
        scanFromAnotherProcess(dir.resolve("c.json"));
        assertThat(live).as("being written by the other copy").exists();
      } finally {
        temp.close();
      }
    }
  }

  /** The Python SDK locks only {@code <name>.lock}: a temporary's writer lock does not exclude it. */
  @Test
  void aLiveTemporaryLeavesThePythonSdksLockFree() throws Exception {
    Path lock = Files.writeString(dir.resolve("c.lock"), "");
    try (FileOps.Temporary live = files.createTemporary(dir.resolve("c.json"))) {
      assertThat(lockedByAnotherProcess(lock)).isFalse();
      assertThat(lockedByAnotherProcess(live.path)).isTrue();
    }
  }
}
