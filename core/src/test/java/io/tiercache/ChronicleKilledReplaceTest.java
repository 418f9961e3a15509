package io.tiercache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.AbstractMap;
import java.util.AbstractSet;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import net.openhft.chronicle.map.ChronicleMap;
import net.openhft.chronicle.map.ExternalMapQueryContext;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Chronicle Map store's process killed ({@code kill -9}, a real child JVM) in the middle of a
 * replace while this one keeps the map open: no recovery runs until every process has closed the
 * map, so the killed replace's entries stay in the file under the generation it began.
 */
class ChronicleKilledReplaceTest {
  static final int NEW_ENTRIES = 20_000;
  static final byte[] VALUE = "\"value-of-some-length\"".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;
  private final List<AutoCloseable> opened = new ArrayList<>();
  private Process child;

  @AfterEach
  void closeAll() throws Exception {
    if (child != null) {
      child.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
    for (AutoCloseable c : opened) {
      c.close();
    }
  }

  static StoreConfig config(Path dir) {
    return TieredCache.builder(String.class, String.class).directory(dir).name("m")
        .store(StoreSpec.chronicleMap(400_000, 32)).config().store();
  }

  private ChronicleStore store() {
    ChronicleSupport.requireUsable();
    StoreConfig config = config(dir);
    ChronicleStore store = ChronicleStore.open(config, (StoreSpec.ChronicleMap) config.spec());
    opened.add(store);
    return store;
  }

  /** Another process's view of the map's raw entries, every generation included. */
  private ChronicleMap<String, byte[]> raw() throws Exception {
    StoreConfig config = config(dir);
    ChronicleMap<String, byte[]> raw = ChronicleStore.builder("m", (StoreSpec.ChronicleMap) config.spec())
        .createPersistedTo(config.files().chronicleMap().toFile());
    opened.add(raw);
    return raw;
  }

  /** Starts {@link #main} in a child JVM, which opens the store and does {@code what}; returns once it said so. */
  private void startChild(String what) throws Exception {
    child = startJvm(what, List.of());
  }

  /** {@link #startChild} with more JVM options; returns the child, whose output is read up to {@code what}. */
  private Process startJvm(String what, List<String> options) throws Exception {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command = new ArrayList<>(List.of(java));
    for (String flag : ChronicleSupport.FLAGS) {
      command.addAll(List.of(flag.split(" ")));
    }
    command.addAll(options);
    command.addAll(List.of("-Dchronicle.analytics.disable=true", "-Dchronicle.announcer.disable=true",
        "-cp", System.getProperty("java.class.path"), ChronicleKilledReplaceTest.class.getName(), dir.toString(), what));
    Process started = new ProcessBuilder(command).redirectErrorStream(true).start();
    InputStream out = started.getInputStream();
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    for (String line; (line = readLine(out)) != null; ) {
      if (line.equals(what)) {
        return started;
      }
      if (System.nanoTime() > giveUp) {
        break;
      }
    }
    started.destroyForcibly();
    throw new AssertionError("the child JVM did not start to " + what);
  }

  /** One line, read a byte at a time: nothing buffered beyond it is lost to the next reader. */
  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    for (int b; (b = in.read()) != '\n'; ) {
      if (b < 0) {
        return line.size() == 0 ? null : line.toString(StandardCharsets.UTF_8);
      }
      line.write(b);
    }
    return line.toString(StandardCharsets.UTF_8);
  }

  private void killChild() throws Exception {
    child.destroyForcibly(); // SIGKILL
    assertThat(child.waitFor(10, TimeUnit.SECONDS)).isTrue();
  }

  /**
   * The next clear must not commit what the killed replace wrote (before the fix it reused the
   * generation the killed replace began, and committed its entries: every process served them,
   * after a restart too); and no process counts them meanwhile.
   */
  @Test
  void aReplaceKilledWhileAnotherProcessKeepsTheMapOpenIsNeverServed() throws Exception {
    ChronicleStore survivor = store();
    survivor.await(survivor.put("old", VALUE));
    ChronicleMap<String, byte[]> raw = raw();
    startChild("replace");
    killChild();
    assertThat(raw.longSize()).as("the old entry and half of the new").isEqualTo(1 + NEW_ENTRIES / 2 - 1);
    opened.removeIf(c -> c == raw); // a closed map's equals throws
    raw.close();

    assertThat(survivor.size()).as("only the current generation counts").isEqualTo(1);
    assertThat(survivor.get("old")).isNotNull();
    survivor.await(survivor.clear());
    assertThat(servedOfTheKilledReplace(survivor)).isZero();
    assertThat(survivor.get("old")).isNull();
    assertThat(survivor.size()).isZero();

    survivor.close();
    opened.remove(survivor);
    ChronicleStore reopened = store(); // alone: recovers the map
    assertThat(servedOfTheKilledReplace(reopened)).isZero();
    assertThat(reopened.size()).isZero();
  }

  private static int servedOfTheKilledReplace(ChronicleStore store) {
    int served = 0;
    for (int i = 0; i < NEW_ENTRIES; i++) {
      if (store.get("new-" + i) != null) {
        served++;
      }
    }
    return served;
  }

  /**
   * A clear that meets a segment locked by a killed process fails, after Chronicle's lock timeout,
   * with a {@link CacheException} naming the file, not with Chronicle's own exception.
   */
  @Test
  void aClearMeetingASegmentADeadProcessLockedNamesTheFile() throws Exception {
    ChronicleStore survivor = store();
    survivor.await(survivor.put("old", VALUE));
    startChild("lock");
    killChild();
    assertThatThrownBy(survivor::clear).isInstanceOf(CacheException.class)
        .hasMessageContaining("locked by a process")
        .satisfies(e -> assertThat(((CacheException) e).file()).contains(config(dir).files().chronicleMap()));
  }

  /**
   * Reads (get, size, forEach; getStale and forEachStale go through them), writes (put, remove) and an open that meet a segment a killed process left locked
   * fail, after Chronicle's lock timeout, with a {@link CacheException} naming the file; the failed open
   * leaves neither its count of openers nor its purger behind (else every later opener alone with the
   * map recovers it for nothing, and each failed open leaks a scheduled task). Before, the reads, a put
   * and a remove threw Chronicle's own {@code InterProcessDeadLockException}, and the open left both. Done in a child JVM
   * whose Chronicle times out after a second, not sixty.
   */
  @Test
  void readsAndAnOpenMeetingASegmentADeadProcessLockedNameTheFileAndLeaveNothingBehind() throws Exception {
    ChronicleStore survivor = store(); // keeps the map open: no opener recovers it
    survivor.await(survivor.put("old", VALUE));
    Process reader = startJvm("reads", List.of("-Dnet.openhft.chronicle.map.lockTimeoutSeconds=1"));
    try {
      startChild("lock");
      killChild();
      reader.getOutputStream().write("go\n".getBytes(StandardCharsets.UTF_8));
      reader.getOutputStream().flush();
      assertThat(reader.waitFor(60, TimeUnit.SECONDS)).isTrue();
      List<String> lines = new String(reader.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines()
          .filter(l -> l.startsWith("child ")).toList();
      String named = "CacheException " + config(dir).files().chronicleMap();
      assertThat(lines).contains("child get: " + named, "child size: " + named, "child forEach: " + named,
          "child put: " + named, "child remove: " + named, "child open: " + named, "child openers unchanged: true",
          "child scheduled tasks unchanged: true");
    } finally {
      reader.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    }
  }

  private static String outcome(Runnable call) {
    try {
      call.run();
      return "returned";
    } catch (CacheException e) {
      return "CacheException " + e.file().orElse(null) + (e.getMessage().contains("locked by a process") ? "" : " " + e);
    } catch (RuntimeException e) {
      return e.toString();
    }
  }

  /** The child: opens the store, says {@code args[1]} and does it; killed before it ends. */
  public static void main(String[] args) throws Exception {
    ChronicleSupport.requireUsable();
    StoreConfig config = config(Path.of(args[0]));
    ChronicleStore store = ChronicleStore.open(config, (StoreSpec.ChronicleMap) config.spec());
    if (args[1].equals("reads")) {
      System.out.println("reads");
      System.out.flush();
      new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine(); // the lock is dead
      System.out.println("child get: " + outcome(() -> store.get("old")));
      System.out.println("child size: " + outcome(store::size));
      System.out.println("child forEach: " + outcome(() -> store.forEach((k, v) -> { })));
      System.out.println("child put: " + outcome(() -> store.put("old", VALUE)));
      System.out.println("child remove: " + outcome(() -> store.remove("old")));
      long openers;
      try (ChronicleState state = new ChronicleState(config.files().chronicleState(), config.fileOps())) {
        openers = state.openers();
      }
      int tasks = Maintenance.COMPACTOR.getQueue().size();
      System.out.println("child open: " + outcome(() -> ChronicleStore.open(config, (StoreSpec.ChronicleMap) config.spec())));
      try (ChronicleState state = new ChronicleState(config.files().chronicleState(), config.fileOps())) {
        System.out.println("child openers unchanged: " + (state.openers() == openers));
      }
      System.out.println("child scheduled tasks unchanged: " + (Maintenance.COMPACTOR.getQueue().size() == tasks));
      System.out.flush();
      Runtime.getRuntime().halt(0); // the store's segment is dead: a close would wait for it
    }
    if (args[1].equals("replace")) {
      Map<String, byte[]> content = new LinkedHashMap<>();
      for (int i = 0; i < NEW_ENTRIES; i++) {
        content.put("new-" + i, VALUE);
      }
      store.replaceAll(new AbstractMap<>() { // says so half-way, between two writes: no segment lock held
        @Override
        public Set<Map.Entry<String, byte[]>> entrySet() {
          return new AbstractSet<>() {
            @Override
            public Iterator<Map.Entry<String, byte[]>> iterator() {
              Iterator<Map.Entry<String, byte[]>> all = content.entrySet().iterator();
              return new Iterator<>() {
                int given;

                @Override
                public boolean hasNext() {
                  return all.hasNext();
                }

                @Override
                public Map.Entry<String, byte[]> next() {
                  if (++given == NEW_ENTRIES / 2) {
                    System.out.println("replace");
                    System.out.flush();
                    sleep();
                  }
                  return all.next();
                }
              };
            }

            @Override
            public int size() {
              return content.size();
            }
          };
        }
      });
    } else {
      StoreConfig same = config(Path.of(args[0]));
      ChronicleMap<String, byte[]> raw = ChronicleStore.builder("m", (StoreSpec.ChronicleMap) same.spec())
          .createPersistedTo(same.files().chronicleMap().toFile());
      ExternalMapQueryContext<String, byte[], ?> c = raw.queryContext("0:old");
      c.writeLock().lock(); // held until the kill
      System.out.println("lock");
      System.out.flush();
    }
    sleep();
  }

  private static void sleep() {
    try {
      Thread.sleep(60_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
