package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.sun.jna.Platform;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code statx(2)}, read through JNA at fixed offsets, gives on every field what Java's "unix"
 * attribute view gives (the view is what other platforms use, and what the values in the state page
 * were recorded with): files whose mode, links, size and times are all different from one another's
 * and from their defaults, a link itself and what it points to, a descriptor whose name is gone.
 */
class FileStatTest {
  @TempDir Path dir;

  @Test
  void statxServesOnLinux() {
    assumeTrue(Platform.isLinux());
    assertThat(FileStat.nativeCalls()).isTrue();
  }

  @Test
  void agreesWithTheAttributeViewOnEveryField() throws IOException {
    Path file = dir.resolve("a.json");
    Files.write(file, new byte[12_345]);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r-----"));
    Files.setLastModifiedTime(file, FileTime.from(Instant.parse("2001-02-03T04:05:06.123456789Z")));
    Files.createLink(dir.resolve("a.hard"), file);
    Path link = Files.createSymbolicLink(dir.resolve("a.link"), file);

    FileStat stat = FileStat.ofLink(file);
    assertThat(stat).isEqualTo(FileStat.viaAttributes(file, false));
    assertThat(stat.type()).isEqualTo(FileStat.REGULAR);
    assertThat(stat.mode() & 0777).isEqualTo(0640);
    assertThat(stat.nlink()).isEqualTo(2);
    assertThat(stat.size()).isEqualTo(12_345);
    assertThat(stat.mtimeNanos()).isEqualTo(981_173_106_123_456_789L);
    assertThat(stat.ctimeNanos()).isNotEqualTo(stat.mtimeNanos());
    assertThat(stat.dev()).isNotZero();

    FileStat linkItself = FileStat.ofLink(link);
    assertThat(linkItself).isEqualTo(FileStat.viaAttributes(link, false));
    assertThat(linkItself.type()).isEqualTo(FileStat.SYMBOLIC_LINK);
    assertThat(linkItself.sameFile(stat)).isFalse();
    assertThat(FileStat.of(link)).isEqualTo(stat);

    assertThat(FileStat.ofLink(dir)).isEqualTo(FileStat.viaAttributes(dir, false));
    assertThat(FileStat.ofLink(dir).type()).isEqualTo(0040000);
  }

  @Test
  void aDescriptorIsTheFileItHoldsAfterItsNameIsGone() throws IOException {
    Path file = dir.resolve("b.lock");
    Files.write(file, new byte[7]);
    FileStat before = FileStat.ofLink(file);
    int fd = FileOps.holdOpen(file);
    try {
      Files.delete(file);
      Files.write(file, new byte[3]); // another file under the same name
      FileStat held = FileStat.of(fd);
      assertThat(held.sameFile(before)).isTrue();
      assertThat(held.sameFile(FileStat.ofLink(file))).isFalse();
      assertThat(held.nlink()).isZero();
      assertThat(held.size()).isEqualTo(7);
      assertThat(held).isEqualTo(FileStat.viaAttributes(Path.of("/proc/self/fd/" + fd), true));
    } finally {
      Posix.close(fd);
    }
  }

  @Test
  void nothingThereIsNullAndAnyOtherFailureNamesThePath() throws IOException {
    assertThat(FileStat.ofLink(dir.resolve("missing"))).isNull();
    assertThat(FileStat.of(dir.resolve("missing"))).isNull();
    Files.createSymbolicLink(dir.resolve("dangling"), dir.resolve("missing"));
    assertThat(FileStat.of(dir.resolve("dangling"))).isNull();
    assertThat(FileStat.ofLink(dir.resolve("dangling")).type()).isEqualTo(FileStat.SYMBOLIC_LINK);

    Path notADirectory = dir.resolve("plain");
    Files.write(notADirectory, new byte[1]);
    assertThatThrownBy(() -> FileStat.ofLink(notADirectory.resolve("x")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(notADirectory.resolve("x").toString());
  }
}
