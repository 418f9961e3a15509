package io.tiercache.stress;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Starts child JVMs of this class path: the harnesses' writers, readers and victims. */
public final class Children {
  private Children() {}

  /** Deletes a tree the harness made, without following links (a planted link's target is not ours). */
  public static void deleteTree(Path root) throws IOException {
    if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(root)) {
      for (Path p : (Iterable<Path>) walk.sorted(Comparator.reverseOrder())::iterator) {
        Files.deleteIfExists(p);
      }
    }
  }

  static Process start(Class<?> main, List<String> args) throws IOException {
    return start(main, args, "256m", null);
  }

  /** As above with a heap size, and standard error to {@code errors} (null: inherited). */
  static Process start(Class<?> main, List<String> args, String heap, java.nio.file.Path errors)
      throws IOException {
    return new ProcessBuilder(javaCommand(main, args, heap))
        .redirectError(errors == null ? ProcessBuilder.Redirect.INHERIT : ProcessBuilder.Redirect.to(errors.toFile()))
        .start();
  }

  /** The command line of a child JVM running {@code main} on this class path with this JVM's Chronicle flags. */
  public static List<String> javaCommand(Class<?> main, List<String> args, String heap) {
    String java = ProcessHandle.current().info().command().orElse("java");
    List<String> command = new ArrayList<>(List.of(java, "-Xmx" + heap, "-XX:+UseSerialGC"));
    command.addAll(chronicleFlags());
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), main.getName()));
    command.addAll(args);
    return command;
  }

  /** This JVM's Chronicle Map flags, handed down so children can open the Chronicle store if this JVM can. */
  static List<String> chronicleFlags() {
    List<String> flags = new ArrayList<>();
    List<String> ours = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments();
    for (int i = 0; i < ours.size(); i++) {
      String a = ours.get(i);
      if ((a.equals("--add-opens") || a.equals("--add-exports")) && i + 1 < ours.size()) {
        flags.add(a);
        flags.add(ours.get(++i));
      } else if (a.startsWith("--add-opens=") || a.startsWith("--add-exports=") || a.startsWith("-Dchronicle.")) {
        flags.add(a);
      }
    }
    return flags;
  }

  /** Kills every child still running: a harness never leaves processes behind. */
  static void killAll(List<Process> processes) {
    for (Process p : processes) {
      p.destroyForcibly();
    }
  }
}
