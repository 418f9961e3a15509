package io.tiercache;

import io.tiercache.JsonText.MalformedJsonException;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.Collection;
import java.util.Set;
import java.util.zip.CRC32C;
import org.jspecify.annotations.Nullable;

/**
 * tiercache's own copy of a cache's content, {@code <name>.snapshot}: the Python SDK's snapshot
 * text, byte for byte as {@code <name>.json} gets it, plus a hash index of it, so that opening a
 * cache maps the file and reads one header instead of parsing every entry, and a lookup is a probe
 * and a copy of one value. The heap holds none of it.
 *
 * <pre>
 * header      256 bytes: magic, version, generation, the two tables below, the echo hashes and their
 *             CRC-32C, the header's CRC-32C
 * live index  slots of {key hash, value length, key offset, key length + 2, value CRC-32C}, 24 bytes
 *             each, linear probing
 * live JSON   {"expiry": ..., "data": {...}, "tiercache": {...}} exactly as exported to <name>.json
 * stale index the content of the previous expiry period, kept for stale-if-error (optional)
 * stale JSON  {"expiry": ..., "data": {...}}
 * echo hashes sorted 64-bit hashes (XXH64) of the (key, value) pairs exported in this and the previous period
 * </pre>
 *
 * Format 1 differed only in its echo hashes: a byte-at-a-time FNV-1a (450 ns for 400 bytes here,
 * against XXH64's 33-45), computed for every entry at every compaction, was most of a compaction's
 * CPU. It is still read, and its echo hashes are carried, flagged, until they age out (see
 * {@link EchoHashes}).
 *
 * The file is written whole into a temporary file and renamed into place; it is never changed
 * after, so a mapping of it stays valid. The header is checked at open; each slot is bounds-checked
 * when used, and each value's checksum when it is read: a damaged entry is a {@link DamagedException},
 * never a wrong value.
 */
final class SnapshotFile {
  static final long MAGIC = 0x31504e53_43546974L; // "tiTCSNP1" read little-endian
  static final int VERSION = 2;
  /** Format 1's echo hashes are FNV-1a's: see {@link #format1PairHash}. */
  private static final int FORMAT_1 = 1;
  /** The flags' bits: a fresh (replaced) content, and echo hashes that may include format 1's. */
  private static final int FRESH = 1;
  private static final int FORMAT_1_ECHOES = 2;
  static final int HEADER_BYTES = 256;
  static final int SLOT_BYTES = 24;
  private static final int CRC_AT = HEADER_BYTES - 8;

  /** An entry whose bytes fail their checksum, or an index slot that points outside its table. */
  static final class DamagedEntryException extends CacheException {
    private static final long serialVersionUID = 1L;
    /** The generation of the damaged snapshot: a repair acts only while it is the one in place. */
    final long generation;

    DamagedEntryException(String message, Path file, long generation) {
      super(message, file);
      this.generation = generation;
    }
  }

  /** A damaged or foreign file; the store moves it aside and rebuilds it. */
  static final class DamagedException extends IOException {
    DamagedException(String message) {
      super(message);
    }
  }

  final Path path;
  final long generation;
  /**
   * Written by a replace: the content starts over here, and no journal older than this snapshot
   * applies to it (a compaction's snapshot is the old one plus a journal prefix, which may be
   * replayed over it again).
   */
  final boolean fresh;
  final Table live;
  final Table stale;
  private final Mapped map;
  private final long echoOffset;
  private final int echoCount;
  /** Whether some echo hashes may be format 1's: see {@link #isEcho}. */
  private final boolean format1Echoes;
  /** The echo hashes' CRC-32C; -1 when format 1 wrote none. */
  private final long echoCrc;

  /** Releases the mapping at once; only for a snapshot no reader was ever given (see {@link Mapped#unmap()}). */
  void unmap() {
    map.unmap();
  }

  private SnapshotFile(Path path, Mapped map) throws DamagedException {
    this.path = path;
    this.map = map;
    if (map.size() < HEADER_BYTES || map.getLong(0) != MAGIC) {
      throw new DamagedException("not a tiercache snapshot (no magic number)");
    }
    int version = map.getInt(8);
    if (version != VERSION && version != FORMAT_1) {
      throw new DamagedException("snapshot format " + version + ", this tiercache reads format " + VERSION
          + " (a newer tiercache wrote it?)");
    }
    CRC32C crc = new CRC32C();
    crc.update(map.bytes(0, CRC_AT));
    if ((int) crc.getValue() != map.getInt(CRC_AT)) {
      throw new DamagedException("header checksum mismatch");
    }
    this.generation = map.getLong(16);
    int flags = map.getInt(12);
    this.fresh = (flags & FRESH) != 0;
    this.format1Echoes = version == FORMAT_1 || (flags & FORMAT_1_ECHOES) != 0;
    this.live = new Table(24);
    this.stale = new Table(72);
    this.echoOffset = map.getLong(120);
    long echoes = map.getLong(128);
    if (echoes < 0 || echoes > Integer.MAX_VALUE || echoOffset < HEADER_BYTES || echoOffset > map.size()
        || echoes > (map.size() - echoOffset) / Long.BYTES) {
      throw new DamagedException("echo hashes out of the file's bounds");
    }
    this.echoCount = (int) echoes;
    this.echoCrc = version == FORMAT_1 ? -1 : map.getLong(136);
  }

  /**
   * Whether the records of a journal that extends snapshot generation {@code base} apply over this
   * snapshot: those of its own journal, and of the one before (this snapshot holds a prefix of them,
   * which replays harmlessly) unless a replace wrote this one.
   */
  boolean extendedBy(long base) {
    return base == generation || base == generation - 1 && !fresh;
  }

  static SnapshotFile map(Path path, FileChannel channel) throws IOException {
    return new SnapshotFile(path, Mapped.map(channel));
  }

  /** One table: entries in a JSON object's {@code "data"} member and their index. */
  final class Table {
    final long expiryMillis;
    final long count;
    private final long slots;
    private final long indexOffset;
    final long jsonOffset;
    final long jsonLength;

    Table(int at) throws DamagedException {
      this.expiryMillis = map.getLong(at);
      this.count = map.getLong(at + 8);
      this.slots = map.getLong(at + 16);
      this.indexOffset = map.getLong(at + 24);
      this.jsonOffset = map.getLong(at + 32);
      this.jsonLength = map.getLong(at + 40);
      long size = map.size();
      // Subtractions, not sums: the header's numbers may be anything a checksum allows, and a sum may wrap.
      boolean ok = slots >= 0 && (slots & (slots - 1)) == 0 && count >= 0 && count <= slots
          && indexOffset >= HEADER_BYTES && indexOffset <= size && slots <= (size - indexOffset) / SLOT_BYTES
          && jsonLength >= 0 && jsonOffset >= HEADER_BYTES && jsonOffset <= size && jsonLength <= size - jsonOffset;
      if (!ok) {
        throw new DamagedException("a table lies outside the file");
      }
    }

    boolean present() {
      return jsonLength > 0;
    }

    /** The slot holding {@code quotedKey} (the key as a JSON string), or -1. */
    long find(byte[] quotedKey, int length, int hash) {
      if (slots == 0) {
        return -1;
      }
      long mask = slots - 1;
      for (long i = hash & mask, probes = 0; probes < slots; i = (i + 1) & mask, probes++) {
        long slot = indexOffset + i * SLOT_BYTES;
        int h = map.getInt(slot);
        if (h == 0) {
          return -1;
        }
        if (h == hash && map.getInt(slot + 16) == length + 2
            && map.matches(checked(map.getLong(slot + 8)), quotedKey, length)) {
          return slot;
        }
      }
      return -1;
    }

    /**
     * The encoded value of {@code slot}, copied out of the mapping and checked against its checksum.
     *
     * @throws CacheException if the file is damaged there
     */
    Encoded value(long slot) {
      long valueOffset = checked(map.getLong(slot + 8) + map.getInt(slot + 16));
      int length = map.getInt(slot + 4);
      if (length < 0) {
        throw new DamagedEntryException("the value at byte " + valueOffset + " has a negative length: the file is"
            + " damaged", path, generation);
      }
      checked(valueOffset + length);
      byte[] bytes = map.bytes(valueOffset, length);
      CRC32C crc = new CRC32C();
      crc.update(bytes);
      if ((int) crc.getValue() != map.getInt(slot + 20)) {
        throw new DamagedEntryException("the value at byte " + valueOffset + " fails its checksum: the file is"
            + " damaged", path, generation);
      }
      return Encoded.laidOut(bytes);
    }

    /**
     * Visits every entry whose key and value are intact, skipping damaged ones; returns how many were
     * damaged. What a repair salvages.
     */
    long forEachIntact(EntryVisitor visitor) throws IOException {
      long[] damaged = {0};
      for (long i = 0; i < slots; i++) {
        long slot = indexOffset + i * SLOT_BYTES;
        if (map.getInt(slot) == 0) {
          continue;
        }
        String key;
        Encoded value;
        try {
          key = key(slot);
          value = value(slot);
        } catch (DamagedEntryException | IndexOutOfBoundsException e) {
          damaged[0]++;
          continue;
        }
        visitor.visit(key, value);
      }
      return damaged[0];
    }

    /** Visits every entry ({@link EntryVisitor#visitSlot}). */
    void forEach(EntryVisitor visitor) throws IOException {
      forEach(visitor, Set.of());
    }

    /**
     * Visits every entry but those of {@code except}'s keys ({@link EntryVisitor#visitSlot}). They are
     * found by probing the index for each: the entries visited are never decoded to be compared.
     */
    void forEach(EntryVisitor visitor, Collection<String> except) throws IOException {
      BitSet skip = new BitSet();
      for (String key : except) {
        byte[] quoted = quoted(key);
        long slot = find(quoted, quoted.length, hash(quoted, 0, quoted.length));
        if (slot >= 0) {
          skip.set((int) ((slot - indexOffset) / SLOT_BYTES));
        }
      }
      for (long i = 0; i < slots; i++) {
        long slot = indexOffset + i * SLOT_BYTES;
        if (map.getInt(slot) != 0 && !skip.get((int) i)) {
          visitor.visitSlot(this, slot);
        }
      }
    }

    /**
     * Appends the entry of {@code slot} as the table holds it, {@code "key": value}, to {@code sink};
     * returns where its value starts in the sink. Only its bounds are checked here: the caller checks
     * its key hash and checksum with {@link #checkCopied}, once it has computed them for its own index.
     *
     * @throws DamagedEntryException if the file is damaged there
     */
    int copyEntry(long slot, ByteSink sink) {
      long keyOffset = checked(map.getLong(slot + 8));
      int room = map.getInt(slot + 16); // the quoted key and the ": " after it
      int length = map.getInt(slot + 4);
      if (room < 4 || length < 0) {
        throw new DamagedEntryException("the entry at byte " + keyOffset + " has no room or a negative length:"
            + " the file is damaged", path, generation);
      }
      checked(keyOffset + room + length);
      int keyStart = sink.size();
      sink.write(map, keyOffset, room + length);
      return keyStart + room;
    }

    /**
     * Checks the entry of {@code slot}, copied by {@link #copyEntry}, as {@link #key} and {@link #value}
     * check it: {@code keyHash} and {@code valueCrc} are those of the bytes copied.
     *
     * @throws DamagedEntryException if the file is damaged there
     */
    void checkCopied(long slot, int keyHash, int valueCrc) {
      long keyOffset = map.getLong(slot + 8);
      if (keyHash != map.getInt(slot)) {
        throw new DamagedEntryException("the key at byte " + keyOffset + " does not match its index entry: the file"
            + " is damaged", path, generation);
      }
      if (valueCrc != map.getInt(slot + 20)) {
        throw new DamagedEntryException("the value at byte " + (keyOffset + map.getInt(slot + 16)) + " fails its"
            + " checksum: the file is damaged", path, generation);
      }
    }

    /**
     * The key of {@code slot}, checked against the hash its index entry holds: the values carry a
     * checksum, the keys this hash (a damaged key would otherwise be served as another key).
     *
     * @throws DamagedEntryException if the file is damaged there
     */
    private String key(long slot) {
      long keyOffset = checked(map.getLong(slot + 8));
      int quotedLength = map.getInt(slot + 16) - 2; // the room also holds the ": " after the key
      if (quotedLength < 2 || keyOffset + quotedLength > jsonOffset + jsonLength) {
        throw new DamagedEntryException("the key at byte " + keyOffset + " has no room: the file is damaged", path,
            generation);
      }
      byte[] quoted = map.bytes(keyOffset, quotedLength);
      if (hash(quoted, 0, quoted.length) != map.getInt(slot)) {
        throw new DamagedEntryException("the key at byte " + keyOffset + " does not match its index entry: the file"
            + " is damaged", path, generation);
      }
      try {
        return JsonText.readString(quoted, 0, quoted.length, new int[1]);
      } catch (MalformedJsonException e) {
        throw new DamagedEntryException("the key at byte " + keyOffset + " is not a JSON string: the file is damaged",
            path, generation);
      }
    }

    private long checked(long offset) {
      if (offset < jsonOffset || offset > jsonOffset + jsonLength) {
        throw new DamagedEntryException("the index points outside its table (offset " + offset + "); the file is"
            + " damaged", path, generation);
      }
      return offset;
    }
  }

  interface EntryVisitor {
    void visit(String key, Encoded value) throws IOException;

    /** An entry of {@code table}, at index slot {@code slot}: by default decoded and visited. */
    default void visitSlot(Table table, long slot) throws IOException {
      visit(table.key(slot), table.value(slot));
    }
  }

  /**
   * Whether the pair {@code key}: {@code value}, whose {@link #pairHash} is {@code pairHash}, was
   * exported in this or the previous period; a file whose echo hashes may include format 1's is
   * asked with that hash too.
   */
  boolean isEcho(String key, Encoded value, long pairHash) {
    return containsEcho(pairHash) || format1Echoes && containsEcho(format1PairHash(key, value));
  }

  /** Whether {@code hash} is one of the echo hashes (binary search of the sorted array in the file). */
  private boolean containsEcho(long hash) {
    int lo = 0;
    int hi = echoCount - 1;
    while (lo <= hi) {
      int mid = (lo + hi) >>> 1;
      long v = map.getLong(echoOffset + (long) mid * Long.BYTES);
      if (v < hash) {
        lo = mid + 1;
      } else if (v > hash) {
        hi = mid - 1;
      } else {
        return true;
      }
    }
    return false;
  }

  /** Whether the echo hashes match their checksum (format 1 wrote none: its hashes pass). */
  boolean echoesIntact() {
    return echoCrc == -1 || echoes().live() != null;
  }

  /**
   * The echo hashes. They vouch for the live entries' pairs (a compaction does not hash those again)
   * only when they are intact: checked here, where a compaction reads them all, not at open.
   */
  EchoHashes echoes() {
    long[] e = new long[echoCount];
    for (int i = 0; i < echoCount; i++) {
      e[i] = map.getLong(echoOffset + (long) i * Long.BYTES);
    }
    return new EchoHashes(e, format1Echoes, crcOf(e) == echoCrc ? live : null);
  }

  /** The CRC-32C of {@code hashes} as a file holds them: little-endian, one after the other. */
  private static long crcOf(long[] hashes) {
    CRC32C crc = new CRC32C();
    ByteBuffer chunk = ByteBuffer.allocate(Math.min(hashes.length, 1 << 13) * Long.BYTES)
        .order(ByteOrder.LITTLE_ENDIAN);
    for (int i = 0; i < hashes.length; ) {
      int n = Math.min(hashes.length - i, chunk.capacity() / Long.BYTES);
      chunk.clear();
      chunk.asLongBuffer().put(hashes, i, n);
      chunk.limit(n * Long.BYTES);
      crc.update(chunk);
      i += n;
    }
    return crc.getValue();
  }

  /** Copies the live JSON, the Python SDK's file, into {@code target}. */
  void exportTo(FileChannel source, FileChannel target) throws IOException {
    long done = 0;
    while (done < live.jsonLength) {
      long n = source.transferTo(live.jsonOffset + done, live.jsonLength - done, target);
      if (n <= 0) {
        throw new IOException("short copy of the snapshot's JSON");
      }
      done += n;
    }
  }

  // ---------------------------------------------------------------- keys

  /** {@code key} as the JSON string the snapshot holds: quoted, escaped ASCII-only as Python writes it. */
  static byte[] quoted(String key) {
    ByteSink sink = new ByteSink(key.length() + 8);
    JsonText.writeString(sink, key);
    return sink.toByteArray();
  }

  /** The index hash of a quoted key; never 0, which marks an empty slot. */
  static int hash(byte[] b, int off, int len) {
    long h = 0xcbf29ce484222325L;
    for (int i = off; i < off + len; i++) {
      h = (h ^ b[i]) * 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    int v = (int) h;
    return v == 0 ? 1 : v;
  }

  /**
   * The 64-bit hash of an entry as the snapshot text holds it ({@code "key": value} at the depth of
   * {@code "data"}'s members), which is also how the Python SDK writes it: the echo hashes are these.
   */
  static long pairHash(String key, Encoded value) {
    ByteSink sink = pairText(key, value);
    return xxh64(sink.array(), 0, sink.size());
  }

  /** Format 1's {@link #pairHash}: the echo hashes of a snapshot it wrote, and of those it was carried into. */
  static long format1PairHash(String key, Encoded value) {
    ByteSink sink = pairText(key, value);
    return fnv1a64(sink.array(), 0, sink.size());
  }

  private static ByteSink pairText(String key, Encoded value) {
    ByteSink sink = new ByteSink(key.length() + value.length + 64);
    JsonText.writeString(sink, key);
    sink.writeAscii(": ");
    value.writeAsEntry(sink);
    return sink;
  }

  private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
  private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
  private static final long P1 = 0x9E3779B185EBCA87L;
  private static final long P2 = 0xC2B2AE3D27D4EB4FL;
  private static final long P3 = 0x165667B19E3779F9L;
  private static final long P4 = 0x85EBCA77C2B2AE63L;
  private static final long P5 = 0x27D4EB2F165667C5L;

  /** XXH64 with seed 0 (Yann Collet's specification), 8 bytes a step: the echo hashes since format 2. */
  static long xxh64(byte[] b, int off, int len) {
    int end = off + len;
    int i = off;
    long h;
    if (len >= 32) {
      long v1 = P1 + P2;
      long v2 = P2;
      long v3 = 0;
      long v4 = -P1;
      for (int last = end - 32; i <= last; i += 32) {
        v1 = xxRound(v1, (long) LONG_LE.get(b, i));
        v2 = xxRound(v2, (long) LONG_LE.get(b, i + 8));
        v3 = xxRound(v3, (long) LONG_LE.get(b, i + 16));
        v4 = xxRound(v4, (long) LONG_LE.get(b, i + 24));
      }
      h = Long.rotateLeft(v1, 1) + Long.rotateLeft(v2, 7) + Long.rotateLeft(v3, 12) + Long.rotateLeft(v4, 18);
      h = xxMerge(h, v1);
      h = xxMerge(h, v2);
      h = xxMerge(h, v3);
      h = xxMerge(h, v4);
    } else {
      h = P5;
    }
    h += len;
    for (; i + 8 <= end; i += 8) {
      h ^= xxRound(0, (long) LONG_LE.get(b, i));
      h = Long.rotateLeft(h, 27) * P1 + P4;
    }
    if (i + 4 <= end) {
      h ^= ((int) INT_LE.get(b, i) & 0xFFFF_FFFFL) * P1;
      h = Long.rotateLeft(h, 23) * P2 + P3;
      i += 4;
    }
    for (; i < end; i++) {
      h ^= (b[i] & 0xFFL) * P5;
      h = Long.rotateLeft(h, 11) * P1;
    }
    h ^= h >>> 33;
    h *= P2;
    h ^= h >>> 29;
    h *= P3;
    return h ^ (h >>> 32);
  }

  private static long xxRound(long acc, long input) {
    return Long.rotateLeft(acc + input * P2, 31) * P1;
  }

  private static long xxMerge(long h, long v) {
    return (h ^ xxRound(0, v)) * P1 + P4;
  }

  private static long fnv1a64(byte[] b, int off, int len) {
    long h = 0x9e3779b97f4a7c15L ^ len;
    for (int i = off; i < off + len; i++) {
      h = (h ^ b[i]) * 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    return h ^ (h >>> 33);
  }

  // ---------------------------------------------------------------- writing

  /** What a table is written from. */
  interface Source {
    long expiryMillis();

    /** An exact count of the entries {@link #forEach} visits. */
    long count();

    void forEach(EntryVisitor visitor) throws IOException;
  }

  /** The echo hashes to write, asked for once the live table (and its pair hashes) is written. */
  interface Echoes {
    EchoHashes get();

    /**
     * A table whose entries' pair hashes are among the echo hashes {@link #get} will return, so
     * that entries copied from it need not be hashed again; null when there is none.
     */
    @Nullable Table hashed();
  }

  /**
   * Echo hashes, sorted, without duplicates. {@code format1}: some may be format 1's hashes, carried
   * from a snapshot it wrote; {@link #isEcho} then asks with both hashes, until they are dropped.
   * {@code live}: the live table of the snapshot they were read from, whose every entry's pair hash
   * they hold (it was exported), or null.
   */
  record EchoHashes(long[] hashes, boolean format1, @Nullable Table live) {
    static final EchoHashes NONE = new EchoHashes(new long[0], false, null);
  }

  /**
   * Writes a snapshot into {@code out} (an empty file opened for reading and writing), forces it,
   * and returns the size of the file. {@code pairHashes} receives the {@link #pairHash} of each live
   * entry but those copied from {@code echoSource}'s {@link Echoes#hashed} table.
   */
  static long write(FileChannel out, long generation, boolean fresh, Source live, @Nullable Source stale,
      Echoes echoSource, java.util.function.LongConsumer pairHashes) throws IOException {
    long[] header = new long[(CRC_AT) / Long.BYTES];
    header[2] = generation;
    Writer w = new Writer(out, HEADER_BYTES);
    w.table(live, 3, header, generation, pairHashes, echoSource.hashed());
    if (stale != null) {
      w.table(stale, 9, header, -1, null, null);
    } else {
      header[9 + 3] = w.pos; // an empty table: no slots, no JSON
      header[9 + 4] = w.pos;
    }
    EchoHashes echoes = echoSource.get();
    header[15] = w.pos;
    header[16] = echoes.hashes().length;
    header[17] = crcOf(echoes.hashes());
    for (long e : echoes.hashes()) {
      w.sink.writeLongLe(e);
      w.drainIfFull();
    }
    w.drain();
    ByteBuffer h = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    h.putLong(MAGIC);
    h.putInt(VERSION);
    h.putInt((fresh ? FRESH : 0) | (echoes.format1() ? FORMAT_1_ECHOES : 0));
    for (int i = 2; i < header.length; i++) {
      h.putLong(header[i]);
    }
    CRC32C crc = new CRC32C();
    crc.update(h.array(), 0, CRC_AT);
    h.putInt(CRC_AT, (int) crc.getValue());
    h.position(0);
    FileOps.writeFully(out, h, 0);
    out.force(true);
    return w.pos;
  }

  /** Writes tables at increasing positions: the index is mapped and filled while the JSON streams out. */
  private static final class Writer {
    private static final int FLUSH_AT = 1 << 20;
    final FileChannel out;
    final ByteSink sink = new ByteSink(FLUSH_AT + (64 << 10));
    /** The file position of {@code sink}'s first byte. */
    long pos;

    Writer(FileChannel out, long pos) {
      this.out = out;
      this.pos = pos;
    }

    /** Fills {@code header[at ... at + 5]}: expiry, count, slots, index offset, JSON offset, JSON length. */
    void table(Source source, int at, long[] header, long generation,
        java.util.function.@Nullable LongConsumer pairHashes, @Nullable Table hashed) throws IOException {
      long count = source.count();
      long slots = count == 0 ? 0 : Long.highestOneBit(Math.max(2, count * 4 / 3 + 1) * 2 - 1);
      long indexOffset = pos;
      long indexBytes = slots * SLOT_BYTES;
      if (indexBytes > Integer.MAX_VALUE) {
        throw new IOException("an index of " + count + " entries exceeds 2 GB");
      }
      reserve(indexOffset, indexBytes);
      MappedByteBuffer index = indexBytes == 0 ? null
          : out.map(FileChannel.MapMode.READ_WRITE, indexOffset, indexBytes);
      try {
        if (index != null) {
          index.order(ByteOrder.LITTLE_ENDIAN);
        }
        pos += indexBytes;
        long jsonOffset = pos;
        sink.writeAscii("{\n    \"expiry\": ");
        sink.writeAscii(Snapshot.formatSeconds(source.expiryMillis()));
        sink.writeAscii(",\n    \"data\": {");
        long[] written = {0};
        source.forEach(new EntryVisitor() {
          @Override public void visit(String key, Encoded value) throws IOException {
            int keyStart = separate(written[0]++);
            JsonText.writeString(sink, key);
            sink.writeAscii(": ");
            int valueStart = sink.size();
            value.writeAsEntry(sink);
            entry(keyStart, valueStart, null, 0);
          }

          /** An unchanged entry of the snapshot being replaced: copied as it stands, its key not decoded. */
          @Override public void visitSlot(Table table, long slot) throws IOException {
            int keyStart = separate(written[0]++);
            entry(keyStart, table.copyEntry(slot, sink), table, slot);
          }

          private int separate(long before) {
            sink.writeAscii(before == 0 ? "\n        " : ",\n        ");
            return sink.size();
          }

          /**
           * Indexes the entry at {@code [keyStart, sink.size())}, whose value starts at {@code valueStart};
           * one copied from {@code from}'s {@code slot} is checked against it with the same hash and checksum.
           */
          private void entry(int keyStart, int valueStart, @Nullable Table from, long slot) throws IOException {
            byte[] b = sink.array(); // it holds the entry: under 2 GB
            int end = sink.size();
            CRC32C crc = new CRC32C();
            crc.update(b, valueStart, end - valueStart);
            int keyHash = hash(b, keyStart, valueStart - 2 - keyStart); // the key's room holds the ": " after it
            if (from != null) {
              from.checkCopied(slot, keyHash, (int) crc.getValue());
            }
            insert(index, slots, keyHash, end - valueStart, pos + keyStart, valueStart - keyStart,
                (int) crc.getValue());
            if (pairHashes != null && (from == null || from != hashed)) {
              pairHashes.accept(xxh64(b, keyStart, end - keyStart));
            }
            drainIfFull();
          }
        });
        if (written[0] != count) {
          throw new IllegalStateException("the content changed while it was written: " + written[0]
              + " entries, " + count + " counted");
        }
        sink.writeAscii(written[0] == 0 ? "}" : "\n    }");
        if (generation >= 0) {
          sink.writeAscii(",\n    \"tiercache\": {\n        \"version\": " + Snapshot.FORMAT_VERSION
              + ",\n        \"generation\": " + generation + "\n    }");
        }
        sink.writeAscii("\n}");
        drain();
        if (index != null) {
          index.force();
        }
        header[at] = source.expiryMillis();
        header[at + 1] = count;
        header[at + 2] = slots;
        header[at + 3] = indexOffset;
        header[at + 4] = jsonOffset;
        header[at + 5] = pos - jsonOffset;
      } finally {
        if (index != null) {
          Mapped.unmap(index); // now: see unmap
        }
      }
    }

    private static void insert(MappedByteBuffer index, long slots, int hash, int valueLength, long keyOffset,
        int keyRoom, int crc) {
      int mask = (int) (slots - 1);
      for (int i = hash & mask; ; i = (i + 1) & mask) {
        int at = i * SLOT_BYTES;
        if (index.getInt(at) == 0) {
          index.putInt(at, hash);
          index.putInt(at + 4, valueLength);
          index.putLong(at + 8, keyOffset);
          index.putInt(at + 16, keyRoom);
          index.putInt(at + 20, crc);
          return;
        }
      }
    }

    /**
     * Writes zeros where the index will be mapped. A mapping over a hole gets its blocks on first touch, and
     * a full disk then raises SIGBUS (an InternalError in Java) instead of an IOException we can roll back.
     */
    private void reserve(long from, long length) throws IOException {
      ByteBuffer zeros = ByteBuffer.allocate((int) Math.min(length, 1 << 20));
      for (long at = from, end = from + length; at < end; ) {
        zeros.clear().limit((int) Math.min(zeros.capacity(), end - at));
        FileOps.writeFully(out, zeros, at);
        at += zeros.limit();
      }
    }

    void drainIfFull() throws IOException {
      if (sink.size() >= FLUSH_AT) {
        drain();
      }
    }

    void drain() throws IOException {
      FileOps.writeFully(out, ByteBuffer.wrap(sink.array(), 0, sink.size()), pos);
      pos += sink.size();
      sink.reset();
    }
  }
}
