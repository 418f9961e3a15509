package io.tiercache.stress;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;

/**
 * A redis-server on a free loopback port, without persistence, for one test class or harness: it
 * can be killed (SIGKILL) and started again, empty, on the same port.
 */
public final class RedisProcess implements AutoCloseable {
  private final Path dir;
  private final int port;
  private final @Nullable String password;
  private Process process;

  /** A server without a password. */
  public RedisProcess(Path dir) throws IOException, InterruptedException {
    this(dir, null);
  }

  /** A server that requires {@code password} ({@code requirepass}), or none when null. */
  public RedisProcess(Path dir, @Nullable String password) throws IOException, InterruptedException {
    this.dir = dir;
    this.password = password;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    start();
  }

  /** Starts the server (again, after {@link #kill}: empty) and returns once it answers. */
  public void start() throws IOException, InterruptedException {
    List<String> command = new ArrayList<>(List.of("redis-server", "--port", Integer.toString(port),
        "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir.toString()));
    if (password != null) {
      command.addAll(List.of("--requirepass", password));
    }
    process = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("redis.log").toFile())).start();
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!answersPing()) {
      if (!process.isAlive() || System.nanoTime() > giveUp) {
        throw new IOException("redis-server did not start on port " + port + "; see " + dir.resolve("redis.log"));
      }
      Thread.sleep(5);
    }
  }

  /** SIGKILL: the server and everything it held are gone. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }

  private boolean answersPing() {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      InputStream in = socket.getInputStream();
      int first = in.read();
      return first == '+' || first == '-'; // "-NOAUTH" also means it is up
    } catch (IOException notYet) {
      return false;
    }
  }

  /** The server's URI, without credentials. */
  public URI uri() {
    return URI.create("redis://127.0.0.1:" + port);
  }

  /** The server's URI with {@code password} as its credentials. */
  public URI uri(String password) {
    return URI.create("redis://:" + password + "@127.0.0.1:" + port);
  }

  @Override
  public void close() throws InterruptedException {
    kill();
  }
}
