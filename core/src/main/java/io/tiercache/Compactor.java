package io.tiercache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import org.jspecify.annotations.Nullable;

/**
 * Writes a new snapshot and puts it in place: the one path by which a compaction, a replace and a
 * repair change the files.
 *
 * <p>{@link #render} writes the snapshot and its export ({@code <name>.json}, the Python SDK's file)
 * into temporary files and starts the new journal with the records appended since the render began,
 * all forced, holding no lock: writers in every process go on appending. {@link #commit}
 * then switches, under tiercache's lock and the Python SDK's: it announces the switch in the state
 * file, appends a seal to the old journal, copies the records appended since the carry into the new
 * journal, and renames the snapshot, the journal and the export into place. Nothing can fail
 * after the seal but the renames; a switch that fails before the snapshot is renamed is abandoned
 * and its seal is void (readers pass a seal whose switch was abandoned); one that fails after is
 * completed by the next process that takes the lock ({@link #completeSwitch}).
 */
final class Compactor {
  /** {@code <name>.json} was rewritten by another program since the last export: merge it first. */
  static final class ExportChangedException extends Exception {
    ExportChangedException() {
      super(null, null, false, false);
    }
  }

  /** A snapshot, its export and the new journal as far as it goes, written and forced, not yet in place. */
  static final class Rendered implements AutoCloseable {
    final long generation;
    final boolean fresh;
    final FileOps.Temporary snapshot;
    final FileOps.Temporary export;
    final SnapshotFile mapped;
    /** The journal the snapshot extends (null for a cache that has none yet), and where the render began in it. */
    final @Nullable JournalFile old;
    final long renderedUpTo;
    /** The new journal: room for its header, then {@code carried} bytes of {@code old} from {@code renderedUpTo}. */
    final FileOps.Temporary journal;
    final long carried;
    /** Committed: {@link #mapped} may be given to readers; else closing releases its mapping. */
    private boolean committed;

    Rendered(long generation, boolean fresh, FileOps.Temporary snapshot, FileOps.Temporary export,
        SnapshotFile mapped, @Nullable JournalFile old, long renderedUpTo, FileOps.Temporary journal, long carried) {
      this.generation = generation;
      this.fresh = fresh;
      this.snapshot = snapshot;
      this.export = export;
      this.mapped = mapped;
      this.old = old;
      this.renderedUpTo = renderedUpTo;
      this.journal = journal;
      this.carried = carried;
    }

    @Override
    public void close() {
      try {
        snapshot.close();
      } finally {
        export.close();
        journal.close();
        if (!committed) {
          mapped.unmap(); // the temporary file's blocks are freed now, not at a garbage collection
        }
      }
    }
  }

  private final FileNames files;
  private final FileOps fileOps;
  private final StateFile state;
  private final LockFile pythonLock;
  private final String writer;

  Compactor(FileNames files, FileOps fileOps, StateFile state, LockFile pythonLock, String writer) {
    this.files = files;
    this.fileOps = fileOps;
    this.state = state;
    this.pythonLock = pythonLock;
    this.writer = writer;
  }

  /**
   * Writes snapshot {@code generation} of {@code live} (and of the previous period's content,
   * {@code stale}, when kept) and its export to temporary files. {@code previousEchoes}: the echo
   * hashes of the snapshot being replaced, joined with those of this one's entries.
   *
   * <p>Then starts the new journal: unless the snapshot is fresh, what was appended to {@code old}
   * since {@code renderedUpTo} so far, forced, so that {@link #commit} copies and forces, under the
   * locks, only what was appended after that. Appends only add after a journal's size, so the bytes
   * below it are final, even those of a write still going on.
   */
  Rendered render(long generation, boolean fresh, SnapshotFile.Source live, SnapshotFile.@Nullable Source stale,
      SnapshotFile.EchoHashes previousEchoes, @Nullable JournalFile old, long renderedUpTo) {
    FileOps.Temporary snapshot = fileOps.createTemporary(files.snapshot());
    FileOps.Temporary export = null;
    FileOps.Temporary journal = null;
    SnapshotFile mapped = null;
    boolean rendered = false;
    try {
      EchoesAfterLive echoes = new EchoesAfterLive(previousEchoes, live.count());
      SnapshotFile.write(snapshot.channel, generation, fresh, live, stale, echoes, echoes::add);
      mapped = SnapshotFile.map(files.snapshot(), snapshot.channel);
      export = fileOps.createTemporary(files.json());
      mapped.exportTo(snapshot.channel, export.channel);
      // A copy for the Python SDK, exported again if a power loss tears it, but forced here, outside the
      // locks: ext4 writes back a file renamed over another at the rename (auto_da_alloc), which took
      // the switch 20-40 ms at 100k entries.
      export.channel.force(false);
      journal = fileOps.createTemporary(files.journal());
      long carried = 0;
      if (old != null && !fresh) {
        try {
          carried = old.copyTo(renderedUpTo, old.size(), journal.channel, Journal.header(generation, 0).length);
          journal.channel.force(true);
        } catch (IOException e) {
          throw new CacheException("cannot write a new journal", files.journal(), e);
        }
      }
      Rendered r = new Rendered(generation, fresh, snapshot, export, mapped, old, renderedUpTo, journal, carried);
      rendered = true;
      return r;
    } catch (IOException e) {
      throw new CacheException("cannot write a new snapshot", files.snapshot(), e);
    } finally {
      if (!rendered) {
        snapshot.close();
        if (export != null) {
          export.close();
        }
        if (journal != null) {
          journal.close();
        }
        if (mapped != null) {
          mapped.unmap(); // the temporary file's blocks are freed now, not at a garbage collection
        }
      }
    }
  }

  /**
   * The echo hashes, computed lazily: {@link SnapshotFile#write} asks for them after the live table.
   * They are this export's pairs joined with the previous exports', while those number at most twice
   * the entries, and at least 65,536 (a Python process's view is rarely older than a few exports). The
   * previous snapshot's hold the pairs of every entry of its live table, so while they are kept, an
   * entry copied from that table is not hashed again: a compaction hashes only what changed. The bound
   * is on the previous hashes, not on what this export adds to them: a cache whose compactions each
   * change a few entries hashes every entry once in about {@code count / changes} compactions.
   */
  private static final class EchoesAfterLive implements SnapshotFile.Echoes {
    private final SnapshotFile.EchoHashes previous;
    private final boolean keepPrevious;
    private long[] pairs;
    private int n;

    EchoesAfterLive(SnapshotFile.EchoHashes previous, long count) {
      this.previous = previous;
      this.keepPrevious = previous.hashes().length <= Math.max(65_536, 2 * count);
      this.pairs = new long[keepPrevious ? 16 : (int) Math.min(Integer.MAX_VALUE - 8, Math.max(16, count))];
    }

    /** The pair hash of an entry of this export. */
    void add(long pairHash) {
      if (n == pairs.length) {
        pairs = Arrays.copyOf(pairs, n * 2);
      }
      pairs[n++] = pairHash;
    }

    @Override
    public SnapshotFile.EchoHashes get() {
      long[] mine = Arrays.copyOf(pairs, n);
      Arrays.sort(mine);
      return keepPrevious
          ? new SnapshotFile.EchoHashes(union(sorted(previous.hashes()), mine), previous.format1(), null)
          : new SnapshotFile.EchoHashes(union(mine, new long[0]), false, null);
    }

    @Override
    public SnapshotFile.@Nullable Table hashed() {
      return keepPrevious ? previous.live() : null;
    }

    /** {@code a} sorted: as the file it was read from holds it, unless that file is damaged there. */
    private static long[] sorted(long[] a) {
      for (int i = 1; i < a.length; i++) {
        if (a[i - 1] > a[i]) {
          long[] copy = a.clone();
          Arrays.sort(copy);
          return copy;
        }
      }
      return a;
    }

    /** The sorted values of two sorted arrays, each once: a merge, not a sort of both. */
    private static long[] union(long[] a, long[] b) {
      long[] out = new long[a.length + b.length];
      int i = 0;
      int j = 0;
      int n = 0;
      while (i < a.length || j < b.length) {
        long next = j == b.length || i < a.length && a[i] <= b[j] ? a[i++] : b[j++];
        if (n == 0 || out[n - 1] != next) {
          out[n++] = next;
        }
      }
      return Arrays.copyOf(out, n);
    }
  }

  /**
   * Puts {@code rendered} in place of the snapshot its {@code old} journal extends. Records of
   * {@code old} from where the render began to its seal are carried into the new journal, unless the
   * snapshot is fresh (a replace: what came before it does not apply). Caller holds tiercache's lock
   * ({@link StateFile}) and has checked that {@code old} is the journal in place.
   *
   * @return the new journal, opened
   * @throws ExportChangedException if another program rewrote {@code <name>.json} since the last
   *     export: nothing was changed; merge it, then render again
   */
  JournalFile commit(Rendered rendered) throws IOException, ExportChangedException {
    long next = rendered.generation;
    pythonLock.lock();
    try {
      if (!state.exportUnchanged(files.json())) {
        throw new ExportChangedException();
      }
      state.beginSwitch(next);
      boolean snapshotInPlace = false;
      try {
        JournalFile old = rendered.old;
        FileOps.Temporary journal = rendered.journal;
        long carried = rendered.carried;
        int headerLength = Journal.header(next, 0).length; // the same for any carried length
        if (old != null) {
          byte[] seal = Journal.seal(next, writer, rendered.renderedUpTo, old.format); // readable to its writers
          old.append(seal);
          byte[] tail = old.read(rendered.renderedUpTo + carried, old.size());
          int sealStart = lastIndexOf(tail, seal);
          if (sealStart < 0) {
            throw new IOException("the seal just appended is not in the journal");
          }
          if (!rendered.fresh) {
            FileOps.writeFully(journal.channel, ByteBuffer.wrap(tail, 0, sealStart), headerLength + carried);
            carried += sealStart;
          }
        }
        FileOps.writeFully(journal.channel, ByteBuffer.wrap(Journal.header(next, carried)), 0);
        journal.channel.force(true);
        rendered.snapshot.replace(files.snapshot());
        snapshotInPlace = true;
        journal.replace(files.journal());
        state.endSwitch(next);
      } catch (IOException | RuntimeException | Error e) {
        if (!snapshotInPlace) {
          state.endSwitch(state.generation()); // abandoned: the seal is void
        } // else the next process to take the lock completes the switch (see recover)
        throw e;
      }
      exportLocked(rendered);
      JournalFile opened = JournalFile.open(files.journal(), fileOps);
      rendered.committed = true;
      return opened;
    } finally {
      pythonLock.unlock();
    }
  }

  /**
   * Completes the switch to {@code snapshot}, in place, that a compactor killed before renaming its
   * journal left announced: the new journal is written again from {@code old}, which its seal says
   * where to take from (nothing for a fresh snapshot). Writers that appended after the seal append
   * again, as they do after any switch. Caller holds tiercache's lock and has checked that the switch
   * announced is to {@code snapshot}'s generation. Returns false, changing nothing, when {@code old}
   * holds no seal into it that says where (an older tiercache's).
   */
  boolean completeSwitch(SnapshotFile snapshot, JournalFile old) throws IOException {
    byte[] all = old.read(0, old.size());
    Journal.Seal seal = Journal.sealInto(all, all.length, snapshot.generation);
    if (seal == null || seal.renderedFrom() < 0) {
      return false;
    }
    int from = (int) seal.renderedFrom();
    int carried = snapshot.fresh ? 0 : (int) seal.at() - 1 - from; // up to the line break that opens the seal
    try (FileOps.Temporary journal = fileOps.createTemporary(files.journal())) {
      byte[] header = Journal.header(snapshot.generation, carried);
      FileOps.writeFully(journal.channel, ByteBuffer.wrap(header), 0);
      FileOps.writeFully(journal.channel, ByteBuffer.wrap(all, from, carried), header.length);
      journal.channel.force(true);
      journal.replace(files.journal());
    }
    state.endSwitch(snapshot.generation);
    return true;
  }

  /** Replaces {@code <name>.json} with the rendered export. Caller holds the Python SDK's lock. */
  private void exportLocked(Rendered rendered) {
    int replaced = FileOps.holdOpen(files.json()); // its blocks are freed when closed, not under the locks
    try {
      rendered.export.replace(files.json(), false);
      state.recordExport(files.json());
    } finally {
      if (replaced >= 0) {
        Maintenance.closeLater(() -> {
          if (Posix.close(replaced) != 0) {
            throw new IOException(Posix.lastError());
          }
        }, files.json());
      }
    }
  }

  /**
   * Where {@code seal} starts in {@code tail}, searched from the end: only processes appending since
   * follow it. Its bytes name this process's random writer id, and a record's line holds no raw line
   * break, so they match nowhere but at the unit this process appended: no need to parse the records.
   */
  private static int lastIndexOf(byte[] tail, byte[] seal) {
    for (int at = tail.length - seal.length; at >= 0; at--) {
      if (Arrays.equals(tail, at, at + seal.length, seal, 0, seal.length)) {
        return at;
      }
    }
    return -1;
  }
}
