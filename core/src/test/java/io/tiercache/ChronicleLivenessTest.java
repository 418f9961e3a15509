package io.tiercache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.map.ChronicleMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Chronicle Map store's "I have the map open" survives whatever else this JVM does with the same
 * files: another store's close, a second copy of tiercache in another class loader, a restore that
 * looks at the store's undo file. Before, each of these closed a descriptor of the file, which drops
 * every {@code fcntl} lock this process holds on it: another process then took the map for
 * abandoned, recovered it and reset its count of openers while the store still used it, or deleted
 * the store's undo file. Judged by real child JVMs running tiercache's own open and restore.
 */
class ChronicleLivenessTest {
  @TempDir Path dir;
  private final List<AutoCloseable> opened = new ArrayList<>();

  @AfterEach
  void closeAll() throws Exception {
    for (AutoCloseable c : opened) {
      c.close();
    }
  }

  private ChronicleStore store() {
    ChronicleSupport.requireUsable();
    StoreConfig config = ChronicleKilledReplaceTest.config(dir);
    ChronicleStore store = ChronicleStore.open(config, (StoreSpec.ChronicleMap) config.spec());
    opened.add(store);
    return store;
  }

  /** Runs {@link #main} in a child JVM on this test's directory; returns its output. */
  private List<String> child(String what) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command = new ArrayList<>(List.of(java));
    for (String flag : ChronicleSupport.FLAGS) {
      command.addAll(List.of(flag.split(" ")));
    }
    command.addAll(List.of("-Dchronicle.analytics.disable=true", "-Dchronicle.announcer.disable=true",
        "-cp", System.getProperty("java.class.path"), ChronicleLivenessTest.class.getName(), dir.toString(), what));
    Process child = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      List<String> lines = new String(child.getInputStream().readAllBytes(), UTF_8).lines().toList();
      assertThat(child.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(lines).as("the child's output").contains(what + ": done");
      return lines;
    } finally {
      child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  /**
   * The child: {@code open} opens the store and prints what tiercache logged; {@code restore} runs a
   * restore of the undo files over the map, as an opener alone with it would.
   */
  public static void main(String[] args) throws Exception {
    ChronicleSupport.requireUsable();
    StoreConfig config = ChronicleKilledReplaceTest.config(Path.of(args[0]));
    try (LogRecords log = LogRecords.under("io.tiercache")) {
      if (args[1].equals("open")) {
        ChronicleStore.open(config, (StoreSpec.ChronicleMap) config.spec()).close();
      } else {
        restore(config);
      }
      log.records.forEach(r -> System.out.println("logged: " + r.getMessage()));
    }
    System.out.println(args[1] + ": done");
  }

  private static void restore(StoreConfig config) throws IOException {
    Path file = config.files().chronicleMap();
    try (ChronicleMap<String, byte[]> map = ChronicleStore.builder("m", (StoreSpec.ChronicleMap) config.spec())
        .createPersistedTo(file.toFile());
        FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ChronicleUndo.restore(config.files(), config.fileOps(), map, channel);
    }
  }

  private long openers() {
    StoreConfig config = ChronicleKilledReplaceTest.config(dir);
    try (ChronicleState state = new ChronicleState(config.files().chronicleState(), config.fileOps())) {
      return state.openers();
    }
  }

  @Test
  void anotherStoreOfThisJvmClosingLeavesThisOneLiveToOtherProcesses() throws Exception {
    ChronicleStore a = store();
    a.await(a.put("k", ChronicleKilledReplaceTest.VALUE));
    store().close();

    assertThat(child("open")).noneSatisfy(line -> assertThat(line).contains("recovered"));
    assertThat(openers()).as("a's open still counted").isEqualTo(1);
    assertThat(a.get("k")).isNotNull();
  }

  /** Opens and closes the store in the copy of tiercache that {@code loader} loaded; returns how it went. */
  private String openAndCloseIn(ClassLoader loader) throws Exception {
    Method open = loader.loadClass(ChronicleLivenessTest.class.getName()).getDeclaredMethod("openAndClose", String.class);
    open.setAccessible(true);
    return (String) open.invoke(null, dir.toString());
  }

  /** Called in another class loader's copy of tiercache. */
  static String openAndClose(String directory) {
    StoreConfig config = ChronicleKilledReplaceTest.config(Path.of(directory));
    try {
      ChronicleStore.open(config, (StoreSpec.ChronicleMap) config.spec()).close();
      return "opened";
    } catch (CacheException e) {
      return e.getMessage();
    }
  }

  private static URLClassLoader anotherCopyOfTiercache() throws Exception {
    List<URL> urls = new ArrayList<>();
    for (String entry : System.getProperty("java.class.path").split(java.io.File.pathSeparator)) {
      urls.add(Path.of(entry).toUri().toURL());
    }
    return new URLClassLoader(urls.toArray(URL[]::new), ClassLoader.getPlatformClassLoader());
  }

  @Test
  void aStoreOfAnotherCopyOfTiercacheInThisJvmClosingLeavesThisOneLiveToOtherProcesses() throws Exception {
    ChronicleStore a = store();
    a.await(a.put("k", ChronicleKilledReplaceTest.VALUE));
    try (URLClassLoader other = anotherCopyOfTiercache()) {
      assertThat(other.loadClass(ChronicleStore.class.getName())).isNotSameAs(ChronicleStore.class);
      // Chronicle refuses to map the file a second time in one JVM through a second copy of itself (the
      // JVM's lock table is shared, Chronicle's own record of its open maps is not): a failed open, whose
      // cleanup closes its descriptors of the state file all the same.
      assertThat(openAndCloseIn(other)).containsAnyOf("opened", "shared file lock");
    }

    assertThat(child("open")).noneSatisfy(line -> assertThat(line).contains("recovered"));
    assertThat(openers()).as("a's open still counted").isEqualTo(1);
    assertThat(a.get("k")).isNotNull();
  }

  @Test
  void aRestoreInThisJvmLeavesALiveStoresUndoFileToAnotherProcesssRestore() throws Exception {
    ChronicleStore a = store();
    Path undo = a.undo.file;
    StoreConfig config = ChronicleKilledReplaceTest.config(dir);
    restore(config); // this JVM looks at a's undo file (an opener that took itself for alone)
    assertThat(undo).exists();

    child("restore");
    assertThat(undo).as("its writer is alive").exists();
  }
}
