package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

import io.tiercache.Assets.Model;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import net.openhft.chronicle.map.ChronicleMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12, item 7, on the Chronicle Map store: files planted in a shared cache directory by
 * another local user, created for real (links, hard links, another owner, loose permissions). Each
 * is refused with an error naming the file and why; nothing outside the directory is created or
 * changed. Each planting is also given to a naive opener (Chronicle Map's own open and a plain
 * mapping of the state file, as the store did before) and the same checks must catch it.
 */
class ChroniclePlantedFilesTest {
  @TempDir Path base;
  Path dir;
  Path outside;

  @BeforeEach
  void directories() throws IOException {
    dir = Files.createDirectory(base.resolve("cache"));
    outside = Files.createDirectory(base.resolve("outside"));
    ChronicleSupport.requireUsable();
  }

  Path map() {
    return dir.resolve("models.cmap");
  }

  Path state() {
    return dir.resolve("models.cmap.state");
  }

  /** Opens the cache the way a user does, puts one value and closes it. */
  void tiercache() {
    try (TieredCache<String, Model> cache = TieredCache.builder(String.class, Model.class).directory(dir)
        .name("models").store(StoreSpec.chronicleMap(1_000, 256)).build()) {
      cache.put("m1", Model.of("m1"));
    }
  }

  /** What the store did before: Chronicle opens the map by a path it resolves; the state file mapped by path. */
  void naive() throws IOException {
    try (FileChannel s = FileChannel.open(state(), StandardOpenOption.CREATE, StandardOpenOption.READ,
        StandardOpenOption.WRITE)) {
      s.map(FileChannel.MapMode.READ_WRITE, 0, 528_384);
    }
    ChronicleMap.of(String.class, byte[].class).name("models").entries(1_000).averageKeySize(40)
        .averageValueSize(264).createPersistedTo(map().toFile()).close();
  }

  interface Opener {
    void open() throws Exception;
  }

  /**
   * Runs {@code opener} on the planted directory and lists what went wrong: not refused (or refused
   * without naming the file and {@code reason}), and every file outside the cache directory that
   * appeared, vanished or changed.
   */
  List<String> violations(Opener opener, Path planted, String reason) throws Exception {
    Map<String, String> before = outsideFiles();
    List<String> violations = new ArrayList<>();
    try {
      opener.open();
      violations.add("not refused");
    } catch (CacheException e) {
      if (!e.getMessage().contains(planted.toString()) || !e.getMessage().contains(reason)) {
        violations.add("refused without naming the file and why: " + e.getMessage());
      }
    }
    Map<String, String> after = outsideFiles();
    if (!after.equals(before)) {
      violations.add("outside the cache directory, before " + before + ", after " + after);
    }
    return violations;
  }

  /** Every file under {@code base} but the cache directory: path, size and SHA-256. */
  Map<String, String> outsideFiles() throws Exception {
    Map<String, String> files = new TreeMap<>();
    try (Stream<Path> walk = Files.walk(base)) {
      for (Path p : walk.filter(p -> !p.startsWith(dir) && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)).toList()) {
        byte[] bytes = Files.readAllBytes(p);
        files.put(base.relativize(p).toString(),
            bytes.length + " " + HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes), 0, 8));
      }
    }
    return files;
  }

  void assertRefusedAndNaiveCaught(Runnable plant, Path planted, String reason) throws Exception {
    plant.run();
    assertThat(violations(this::tiercache, planted, reason)).isEmpty();
    // The planting must still be there, as it was: tiercache moves or deletes nothing it does not trust.
    assertThat(Files.exists(planted, LinkOption.NOFOLLOW_LINKS)).isTrue();

    clean();
    plant.run();
    assertThat(violations(this::naive, planted, reason)).as("the naive opener must be caught").isNotEmpty();
  }

  void clean() throws IOException {
    for (Path d : List.of(dir, outside)) {
      try (Stream<Path> files = Files.list(d)) {
        for (Path p : files.toList()) {
          Files.delete(p);
        }
      }
    }
  }

  static void io(Opener action) {
    try {
      action.open();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  // ---------------------------------------------------------------- links

  @Test
  void aDanglingMapLinkCreatesNothingOutside() throws Exception {
    assertRefusedAndNaiveCaught(() -> io(() -> Files.createSymbolicLink(map(), outside.resolve("created"))),
        map(), "symbolic link");
  }

  @Test
  void aMapLinkToAnEmptyVictimLeavesItEmpty() throws Exception {
    assertRefusedAndNaiveCaught(() -> io(() -> {
      Files.createFile(outside.resolve("victim"));
      Files.createSymbolicLink(map(), outside.resolve("victim"));
    }), map(), "symbolic link");
  }

  @Test
  void aStateLinkToAVictimLeavesItAsItWas() throws Exception {
    assertRefusedAndNaiveCaught(() -> io(() -> {
      Files.writeString(outside.resolve("victim"), "precious1234"); // 12 bytes, as in the issue
      Files.createSymbolicLink(state(), outside.resolve("victim"));
    }), state(), "symbolic link");
  }

  @Test
  void aDanglingStateLinkCreatesNothingOutside() throws Exception {
    assertRefusedAndNaiveCaught(() -> io(() -> Files.createSymbolicLink(state(), outside.resolve("created"))),
        state(), "symbolic link");
  }

  @Test
  void aHardLinkedMapFileIsRefused() throws Exception {
    assertRefusedAndNaiveCaught(() -> io(() -> Files.createLink(map(), Files.createFile(outside.resolve("victim")))),
        map(), "2 hard links");
  }

  @Test
  void aHardLinkedStateFileIsRefused() throws Exception {
    assertRefusedAndNaiveCaught(() -> io(() -> Files.createLink(state(), Files.createFile(outside.resolve("victim")))),
        state(), "2 hard links");
  }

  // ---------------------------------------------------------------- owners and permissions

  @Test
  void anotherUsersMapFileIsRefused() throws Exception {
    assumeThat(Posix.geteuid()).as("chown to another user needs root").isZero();
    assertRefusedAndNaiveCaught(() -> io(() -> Files.setAttribute(Files.createFile(map()), "unix:uid", 65534)),
        map(), "owned by user 65534");
  }

  @Test
  void anotherUsersStateFileIsRefused() throws Exception {
    assumeThat(Posix.geteuid()).as("chown to another user needs root").isZero();
    assertRefusedAndNaiveCaught(() -> io(() -> Files.setAttribute(Files.createFile(state()), "unix:uid", 65534)),
        state(), "owned by user 65534");
  }

  @Test
  void aMapFileOthersCanReadAndWriteIsRefused() throws Exception {
    assertRefusedAndNaiveCaught(() -> io(() -> Files.setPosixFilePermissions(Files.createFile(map()),
        PosixFilePermissions.fromString("rw-rw-rw-"))), map(), "grants");
  }

  @Test
  void aStateFileOthersCanReadAndWriteIsRefused() throws Exception {
    assertRefusedAndNaiveCaught(() -> io(() -> Files.setPosixFilePermissions(Files.createFile(state()),
        PosixFilePermissions.fromString("rw-rw-rw-"))), state(), "grants");
  }

  // ---------------------------------------------------------------- what tiercache creates

  @Test
  void theFilesTiercacheCreatesAreOwnerOnly() throws Exception {
    tiercache();
    for (Path p : List.of(map(), state())) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS)))
          .as(p.toString()).isEqualTo("rw-------");
    }
    tiercache(); // and they are accepted again
  }

  /** A state file of another format is refused before mapping grows it (the issue saw 12 bytes become 528,384). */
  @Test
  void aStateFileOfAnotherFormatIsNeitherGrownNorUsed() throws Exception {
    Files.writeString(state(), "precious1234");
    Files.setPosixFilePermissions(state(), PosixFilePermissions.fromString("rw-------"));
    assertThatThrownBy(this::tiercache).isInstanceOf(CacheException.class)
        .hasMessageContaining("not a tiercache Chronicle Map state file (12 bytes").hasMessageContaining(state().toString());
    assertThat(Files.readString(state())).isEqualTo("precious1234");
  }

  /**
   * The name swapped for another file of this user's between tiercache's check and Chronicle's own
   * open (possible where others may rename this user's files): Chronicle maps the swapped-in file,
   * and the check after the open refuses it.
   */
  @Test
  void aFileSwappedInAfterTheCheckIsRefusedAfterChronicleOpensIt() throws Exception {
    tiercache();
    Path other = dir.resolve("other");
    Files.copy(map(), other);
    Files.setPosixFilePermissions(other, PosixFilePermissions.fromString("rw-------"));
    ChronicleStore.MapFile mapFile = new ChronicleStore.MapFile(map(), FileOps.ownerOnly(),
        ChronicleStore.builder("models", new StoreSpec.ChronicleMap(1_000, 256)));
    try {
      Files.move(other, map(), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      assertThatThrownBy(() -> mapFile.open(false, 0)).isInstanceOf(CacheException.class)
          .hasMessageContaining("mapped another file than the one checked").hasMessageContaining(map().toString());
    } finally {
      mapFile.close();
    }
    // Without the swap, the same opening passes its checks.
    ChronicleStore.MapFile unswapped = new ChronicleStore.MapFile(map(), FileOps.ownerOnly(),
        ChronicleStore.builder("models", new StoreSpec.ChronicleMap(1_000, 256)));
    try {
      unswapped.open(false, 0).close();
    } finally {
      unswapped.close();
    }
  }
}
