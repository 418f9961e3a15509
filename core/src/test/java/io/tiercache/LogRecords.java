package io.tiercache;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * What java.util.logging receives under one logger until closed: tiercache's records, and Lettuce's
 * and Netty's too when no SLF4J provider is bound (the tests bind none). The root logger is {@code ""}.
 */
final class LogRecords extends Handler implements AutoCloseable {
  final List<LogRecord> records = new CopyOnWriteArrayList<>();
  private final Logger logger;

  private LogRecords(Logger logger) {
    this.logger = logger;
  }

  static LogRecords under(String loggerName) {
    LogRecords captured = new LogRecords(Logger.getLogger(loggerName));
    captured.logger.addHandler(captured);
    return captured;
  }

  @Override
  public void publish(LogRecord record) {
    records.add(record);
  }

  @Override
  public void flush() {}

  /** Stops capturing. */
  @Override
  public void close() {
    logger.removeHandler(this);
  }
}
