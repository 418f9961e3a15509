package io.tiercache.stress;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/** A redis-server on a free loopback port, without persistence, for one test class. */
final class RedisProcess implements AutoCloseable {
  private final Process process;
  private final int port;

  RedisProcess(Path dir) throws IOException, InterruptedException {
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    process = new ProcessBuilder("redis-server", "--port", Integer.toString(port), "--bind", "127.0.0.1",
        "--save", "", "--appendonly", "no", "--dir", dir.toString())
        .redirectErrorStream(true).redirectOutput(dir.resolve("redis.log").toFile()).start();
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!answersPing()) {
      if (!process.isAlive() || System.nanoTime() > giveUp) {
        throw new IOException("redis-server did not start on port " + port + "; see " + dir.resolve("redis.log"));
      }
      Thread.sleep(10);
    }
  }

  private boolean answersPing() {
    try (Socket socket = new Socket(InetAddress.getLoopbackAddress(), port)) {
      socket.getOutputStream().write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      InputStream in = socket.getInputStream();
      return in.read() == '+';
    } catch (IOException notYet) {
      return false;
    }
  }

  URI uri() {
    return URI.create("redis://127.0.0.1:" + port);
  }

  @Override
  public void close() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(10, TimeUnit.SECONDS);
  }
}
