package io.tiercache.stress.faults;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What lies around a cache directory, to prove a run touched nothing there: every file, link and
 * directory under {@code root} (links not followed), except the excluded trees, with its type,
 * size, mode, owner, link count, inode, modification and change times, and a SHA-256 of a regular
 * file's bytes or a link's target. {@link #changes} lists what was created, deleted or changed since.
 */
final class Tripwire {
  private final Path root;
  private final Set<Path> excluded;
  private final Map<String, String> before;

  private Tripwire(Path root, Set<Path> excluded) throws IOException {
    this.root = root;
    this.excluded = excluded;
    this.before = scan();
  }

  /** Watches {@code root} except {@code excluded} (the cache directory, the harness's own files). */
  static Tripwire watch(Path root, Path... excluded) throws IOException {
    return new Tripwire(root, Set.of(excluded));
  }

  /** Every difference from the state at {@link #watch}, one line each; empty when nothing was touched. */
  List<String> changes() throws IOException {
    Map<String, String> after = scan();
    List<String> changes = new ArrayList<>();
    before.forEach((path, was) -> {
      String now = after.get(path);
      if (now == null) {
        changes.add("deleted " + path + " (was " + was + ")");
      } else if (!now.equals(was)) {
        changes.add("changed " + path + ": " + was + " -> " + now);
      }
    });
    after.forEach((path, now) -> {
      if (!before.containsKey(path)) {
        changes.add("created " + path + " (" + now + ")");
      }
    });
    return changes;
  }

  private Map<String, String> scan() throws IOException {
    Map<String, String> state = new TreeMap<>();
    state.put(".", describe(root)); // the directory itself: its mode, owner and times
    try (Stream<Path> walk = Files.walk(root)) { // does not follow links
      for (Path p : (Iterable<Path>) walk::iterator) {
        if (!p.equals(root) && excluded.stream().noneMatch(p::startsWith)) {
          state.put(root.relativize(p).toString(), describe(p));
        }
      }
    }
    return state;
  }

  /** A file's identity and content in one string. A directory's times change with its entries, which are listed anyway. */
  static String describe(Path p) throws IOException {
    Map<String, Object> a;
    try {
      a = Files.readAttributes(p, "unix:*", LinkOption.NOFOLLOW_LINKS);
    } catch (NoSuchFileException gone) {
      return "absent";
    }
    StringBuilder s = new StringBuilder();
    int mode = (Integer) a.get("mode");
    boolean link = Boolean.TRUE.equals(a.get("isSymbolicLink"));
    boolean dir = Boolean.TRUE.equals(a.get("isDirectory"));
    s.append(link ? "link" : dir ? "dir" : Boolean.TRUE.equals(a.get("isRegularFile")) ? "file" : "other");
    s.append(" mode=").append(Integer.toOctalString(mode & 07777));
    s.append(" uid=").append(a.get("uid")).append(" gid=").append(a.get("gid"));
    s.append(" ino=").append(a.get("ino"));
    if (!dir) { // a directory's link count follows its subdirectories, which are listed anyway
      s.append(" nlink=").append(a.get("nlink"));
    }
    if (link) {
      s.append(" -> ").append(Files.readSymbolicLink(p));
    } else if (!dir) {
      s.append(" size=").append(a.get("size"));
      s.append(" mtime=").append(((FileTime) a.get("lastModifiedTime")).toInstant());
      s.append(" ctime=").append(((FileTime) a.get("ctime")).toInstant());
      s.append(" sha256=").append(sha256(p));
    }
    return s.toString();
  }

  private static String sha256(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file, LinkOption.NOFOLLOW_LINKS)) {
      MessageDigest md = MessageDigest.getInstance("SHA-256");
      byte[] buf = new byte[65536];
      for (int n; (n = in.read(buf)) > 0; ) {
        md.update(buf, 0, n);
      }
      return HexFormat.of().formatHex(md.digest()).substring(0, 16);
    } catch (NoSuchAlgorithmException e) {
      throw new AssertionError(e);
    } catch (IOException unreadable) {
      return "unreadable(" + unreadable.getClass().getSimpleName() + ")";
    }
  }

  static String permissions(Path p) throws IOException {
    return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
  }
}
