package io.tiercache.jmh;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import org.ehcache.PersistentCacheManager;
import org.ehcache.config.builders.CacheConfigurationBuilder;
import org.ehcache.config.builders.CacheManagerBuilder;
import org.ehcache.config.builders.ResourcePoolsBuilder;
import org.ehcache.config.units.EntryUnit;
import org.ehcache.config.units.MemoryUnit;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.Txn;

/**
 * The peers a user would pick instead of a persistent cache, configured as such a user would, with
 * the durability that matches tiercache's: LMDB (lmdbjava, one transaction per put) and SQLite
 * (sqlite-jdbc, WAL, one autocommit upsert per put). Values are the same encoded JSON bytes.
 */
final class Peers {
  private Peers() {}

  /**
   * Ehcache 3 with a persistent disk tier under {@code dir} and a heap tier of 10 entries, so that
   * reads and writes reach the disk tier. Its disk tier never forces its file.
   */
  static PersistentCacheManager ehcache(Path dir) {
    return CacheManagerBuilder.newCacheManagerBuilder()
        .with(CacheManagerBuilder.persistence(dir.toFile()))
        .withCache("assets", CacheConfigurationBuilder.newCacheConfigurationBuilder(String.class, byte[].class,
            ResourcePoolsBuilder.newResourcePoolsBuilder().heap(10, EntryUnit.ENTRIES).disk(8, MemoryUnit.GB, true)))
        .build(true);
  }

  static org.ehcache.Cache<String, byte[]> assets(PersistentCacheManager manager) {
    return manager.getCache("assets", String.class, byte[].class);
  }

  /**
   * An LMDB environment with one database. {@code synced}: every commit is forced (LMDB's default,
   * FSYNC's equivalent); otherwise {@code MDB_NOSYNC}, where a committed put is in the file's pages
   * and survives a killed process but not a power loss (WRITE's equivalent).
   */
  static final class Lmdb implements AutoCloseable {
    final Env<ByteBuffer> env;
    final Dbi<ByteBuffer> db;
    private final ThreadLocal<ByteBuffer> keyBuffer = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(511));
    private final ThreadLocal<ByteBuffer> valueBuffer = ThreadLocal.withInitial(() -> ByteBuffer.allocateDirect(1 << 16));

    Lmdb(Path dir, long mapBytes, boolean synced) throws java.io.IOException {
      Files.createDirectories(dir);
      env = synced
          ? Env.create().setMapSize(mapBytes).setMaxDbs(1).setMaxReaders(64).open(dir.toFile(), EnvFlags.MDB_NOTLS)
          : Env.create().setMapSize(mapBytes).setMaxDbs(1).setMaxReaders(64).open(dir.toFile(), EnvFlags.MDB_NOTLS,
              EnvFlags.MDB_NOSYNC);
      db = env.openDbi("assets", DbiFlags.MDB_CREATE);
    }

    /** Map size for {@code entries} values of {@code valueBytes}: LMDB's file can never grow past it. */
    static long mapBytes(long entries, int valueBytes) {
      return Math.max(64L << 20, entries * (valueBytes + 128L) * 3);
    }

    private ByteBuffer key(String key) {
      ByteBuffer b = keyBuffer.get().clear();
      b.put(key.getBytes(StandardCharsets.UTF_8)).flip();
      return b;
    }

    private ByteBuffer value(byte[] value) {
      ByteBuffer b = valueBuffer.get();
      if (b.capacity() < value.length) {
        b = ByteBuffer.allocateDirect(value.length * 2);
        valueBuffer.set(b);
      }
      b.clear().put(value).flip();
      return b;
    }

    /** One write transaction, committed. */
    void put(String key, byte[] value) {
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        db.put(txn, key(key), value(value));
        txn.commit();
      }
    }

    /** Many puts in one transaction: filling a database before a measurement. */
    void putAll(String[] keys, byte[][] values) {
      try (Txn<ByteBuffer> txn = env.txnWrite()) {
        for (int i = 0; i < keys.length; i++) {
          db.put(txn, key(keys[i]), value(values[i % values.length]));
        }
        txn.commit();
      }
      env.sync(true);
    }

    /** A copy of the value in one read transaction, or null. */
    byte[] get(String key) {
      try (Txn<ByteBuffer> txn = env.txnRead()) {
        ByteBuffer found = db.get(txn, key(key));
        if (found == null) {
          return null;
        }
        byte[] copy = new byte[found.remaining()];
        found.get(copy);
        return copy;
      }
    }

    @Override
    public void close() {
      env.close();
    }
  }

  /**
   * A SQLite database in WAL mode with one table. {@code synchronous=NORMAL}: a commit is written to
   * the WAL without a sync, so it survives a killed process (WRITE's equivalent); {@code FULL}: the
   * WAL is synced at each commit (FSYNC's).
   */
  static final class Sqlite implements AutoCloseable {
    final Connection connection;
    private final PreparedStatement upsert;
    private final PreparedStatement select;

    Sqlite(Path file, String synchronous) throws SQLException {
      connection = DriverManager.getConnection("jdbc:sqlite:" + file);
      try (Statement s = connection.createStatement()) {
        s.execute("PRAGMA journal_mode=WAL");
        s.execute("PRAGMA synchronous=" + synchronous);
        s.execute("CREATE TABLE IF NOT EXISTS assets (id TEXT PRIMARY KEY, json BLOB NOT NULL) WITHOUT ROWID");
      }
      upsert = connection.prepareStatement("INSERT INTO assets (id, json) VALUES (?, ?) "
          + "ON CONFLICT(id) DO UPDATE SET json = excluded.json");
      select = connection.prepareStatement("SELECT json FROM assets WHERE id = ?");
    }

    /** One autocommit upsert: one transaction. A connection is one thread's at a time. */
    synchronized void put(String key, byte[] value) throws SQLException {
      upsert.setString(1, key);
      upsert.setBytes(2, value);
      upsert.executeUpdate();
    }

    synchronized void putAll(String[] keys, byte[][] values) throws SQLException {
      connection.setAutoCommit(false);
      for (int i = 0; i < keys.length; i++) {
        upsert.setString(1, keys[i]);
        upsert.setBytes(2, values[i % values.length]);
        upsert.addBatch();
        if (i % 10_000 == 9_999) {
          upsert.executeBatch();
        }
      }
      upsert.executeBatch();
      connection.commit();
      connection.setAutoCommit(true);
      try (Statement s = connection.createStatement()) {
        s.execute("PRAGMA wal_checkpoint(TRUNCATE)");
      }
    }

    synchronized byte[] get(String key) throws SQLException {
      select.setString(1, key);
      try (ResultSet rs = select.executeQuery()) {
        return rs.next() ? rs.getBytes(1) : null;
      }
    }

    @Override
    public void close() throws SQLException {
      upsert.close();
      select.close();
      connection.close();
    }
  }
}
