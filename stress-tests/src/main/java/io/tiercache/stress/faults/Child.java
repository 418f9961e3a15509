package io.tiercache.stress.faults;

import io.tiercache.stress.Children;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * A child process (a JVM of this class path, or python3) that reports on standard output one line
 * per event ({@code ack <id>}, {@code ready}, ...). Only complete lines count: a line cut by a kill
 * was never finished, so the event it would report never happened. Standard error goes to a file
 * (the scenario counts the warnings in it), and once it ends its standard output too, for whoever
 * investigates a failed run. Every wait is bounded; {@link #close} kills (SIGKILL).
 */
final class Child implements AutoCloseable {
  private final String name;
  private final Process process;
  private final Path stderr;
  private final List<String> lines = new ArrayList<>(); // guarded by this
  private final Thread reader;

  private Child(String name, Process process, Path stderr) {
    this.name = name;
    this.process = process;
    this.stderr = stderr;
    this.reader = new Thread(this::collect, name + "-stdout");
    reader.setDaemon(true);
    reader.start();
  }

  /** A JVM running {@code main} with {@code args}; its standard error goes to {@code work/<name>.err}. */
  static Child java(String name, Class<?> main, List<String> args, String heap, Path work) throws IOException {
    return start(name, Children.javaCommand(main, args, heap), work);
  }

  static Child start(String name, List<String> command, Path work) throws IOException {
    Files.createDirectories(work);
    Path err = work.resolve(name + ".err");
    Process p = new ProcessBuilder(command).redirectError(err.toFile()).start();
    return new Child(name, p, err);
  }

  private void collect() {
    byte[] buf = new byte[8192];
    StringBuilder line = new StringBuilder();
    try (InputStream in = process.getInputStream()) {
      for (int n; (n = in.read(buf)) > 0; ) {
        for (int i = 0; i < n; i++) {
          if (buf[i] == '\n') {
            synchronized (this) {
              lines.add(line.toString());
              notifyAll();
            }
            line.setLength(0);
          } else {
            line.append((char) (buf[i] & 0xff));
          }
        }
      }
    } catch (IOException closed) {
      // the child is gone
    }
    synchronized (this) {
      notifyAll();
      try {
        Files.write(stderr.resolveSibling(name + ".out"), lines, StandardCharsets.UTF_8);
      } catch (IOException e) {
        // a record for people only
      }
    }
  }

  /** Writes one line to the child's standard input. */
  void send(String line) throws IOException {
    OutputStream in = process.getOutputStream();
    in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
    in.flush();
  }

  /** The first line that starts with one of {@code prefixes}, waiting up to {@code timeout} for it. */
  String await(Duration timeout, String... prefixes) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      for (int next = 0; ; ) {
        for (; next < lines.size(); next++) { // each line is looked at once, however long the output
          for (String prefix : prefixes) {
            if (lines.get(next).startsWith(prefix)) {
              return lines.get(next);
            }
          }
        }
        long left = deadline - System.nanoTime();
        if (left <= 0 || (!process.isAlive() && !reader.isAlive())) {
          throw new IllegalStateException(name + " never said " + String.join(" or ", prefixes) + " (alive: "
              + process.isAlive() + ", waited up to " + timeout + "); its standard error ends with:\n" + stderrTail());
        }
        TimeUnit.NANOSECONDS.timedWait(this, Math.min(left, TimeUnit.MILLISECONDS.toNanos(100)));
      }
    }
  }

  String await(String prefix, Duration timeout) throws InterruptedException {
    return await(timeout, prefix);
  }

  /** Whether a line starting with {@code prefix} has been seen. */
  synchronized boolean said(String prefix) {
    return lines.stream().anyMatch(l -> l.startsWith(prefix));
  }

  /** The second word of every line whose first word is {@code word} (the ids of {@code ack <id>} lines), in order. */
  synchronized Set<String> ids(String word) {
    Set<String> ids = new LinkedHashSet<>();
    for (String l : lines) {
      if (l.startsWith(word + " ")) {
        int end = l.indexOf(' ', word.length() + 1);
        ids.add(l.substring(word.length() + 1, end < 0 ? l.length() : end));
      }
    }
    return ids;
  }

  /** How many lines start with {@code word}. */
  synchronized long count(String word) {
    return lines.stream().filter(l -> l.startsWith(word)).count();
  }

  synchronized List<String> lines() {
    return List.copyOf(lines);
  }

  /** SIGKILL: no shutdown hook, no flush, no close. Returns once the process is gone and its output read. */
  void kill() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException(name + " survived SIGKILL for 30 s");
    }
    reader.join(10_000);
  }

  /** Waits for the child to exit by itself and returns its exit code; kills it when it overstays. */
  int exit(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      kill();
      throw new IllegalStateException(name + " did not finish within " + timeout + "; its standard error ends with:\n"
          + stderrTail());
    }
    reader.join(10_000);
    return process.exitValue();
  }

  /** Waits for a normal exit (code 0), else fails naming the child and its standard error. */
  void finish(Duration timeout) throws InterruptedException {
    int code = exit(timeout);
    if (code != 0) {
      throw new IllegalStateException(name + " failed with exit code " + code + "; its standard error ends with:\n"
          + stderrTail());
    }
  }

  boolean alive() {
    return process.isAlive();
  }

  long pid() {
    return process.pid();
  }

  String stderr() {
    try {
      return Files.exists(stderr) ? Files.readString(stderr, StandardCharsets.UTF_8) : "";
    } catch (IOException e) {
      return "(unreadable: " + e + ")";
    }
  }

  /** Lines of standard error that contain {@code text}. */
  long stderrLines(String text) {
    return stderr().lines().filter(l -> l.contains(text)).count();
  }

  String stderrTail() {
    String s = stderr();
    return s.substring(Math.max(0, s.length() - 3000));
  }

  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      kill();
    }
  }

  @Override
  public String toString() {
    return name + "(pid " + process.pid() + ")";
  }
}
