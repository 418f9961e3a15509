package io.tiercache;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * A real {@code redis-server} on a free loopback port, without persistence, in a temporary
 * directory: started by a test class, killed, restarted on the same port, paused with SIGSTOP.
 */
final class RedisServer implements AutoCloseable {
  private final Path dir;
  private final int port;
  private final String password;
  private Process process;

  private RedisServer(Path dir, int port, String password) {
    this.dir = dir;
    this.port = port;
    this.password = password;
  }

  static RedisServer start() throws IOException {
    return start(null);
  }

  /** A server that requires {@code password} ({@code requirepass}) when it is not null. */
  static RedisServer start(String password) throws IOException {
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    RedisServer server = new RedisServer(Files.createTempDirectory("tiercache-redis"), port, password);
    server.restart();
    return server;
  }

  URI uri() {
    return URI.create("redis://127.0.0.1:" + port);
  }

  int port() {
    return port;
  }

  /** Starts the server (again, after {@link #kill}) and waits until it answers PING. */
  void restart() throws IOException {
    List<String> command = new ArrayList<>(List.of("redis-server", "--port", Integer.toString(port), "--bind",
        "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString(), "--logfile",
        dir.resolve("redis.log").toString()));
    if (password != null) {
      command.addAll(List.of("--requirepass", password));
    }
    process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(dir.resolve("stdout.log").toFile())
        .start();
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (true) {
      try {
        if (command("PING").equals("+PONG")) {
          return;
        }
      } catch (IOException notYet) {
        if (!process.isAlive() || System.nanoTime() > giveUp) {
          throw new IOException("redis-server did not start on port " + port + ": "
              + Files.readString(dir.resolve("stdout.log")), notYet);
        }
      }
      sleep(10);
    }
  }

  /** SIGKILL, and waits until the process is gone. */
  void kill() {
    resume();
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  void pause() throws IOException, InterruptedException {
    signal("-STOP");
  }

  void resume() {
    try {
      signal("-CONT");
    } catch (IOException | InterruptedException e) {
      throw new IllegalStateException(e);
    }
  }

  private void signal(String signal) throws IOException, InterruptedException {
    if (process.isAlive()) {
      new ProcessBuilder("kill", signal, Long.toString(process.pid())).inheritIO().start().waitFor();
    }
  }

  void flushAll() throws IOException {
    if (!command("FLUSHALL").equals("+OK")) {
      throw new IOException("FLUSHALL failed");
    }
  }

  /** One inline command (authenticated first when the server requires it); the first line of the reply. */
  String command(String command) throws IOException {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.setSoTimeout(5_000);
      OutputStream out = socket.getOutputStream();
      InputStream in = socket.getInputStream();
      if (password != null) {
        out.write(("AUTH " + password + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        readLine(in);
      }
      out.write((command + "\r\n").getBytes(StandardCharsets.UTF_8));
      out.flush();
      return readLine(in);
    }
  }

  private static String readLine(InputStream in) throws IOException {
    StringBuilder line = new StringBuilder();
    for (int c = in.read(); c != '\r' && c != -1; c = in.read()) {
      line.append((char) c);
    }
    in.read(); // the \n
    return line.toString();
  }

  @Override
  public void close() throws IOException {
    kill();
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}
