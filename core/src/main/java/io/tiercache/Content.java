package io.tiercache;

import com.google.errorprone.annotations.concurrent.GuardedBy;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * What the JSON store holds, as this process sees it: the mapped snapshot, and the changes since it
 * in layers on top, in the manner of a log-structured merge tree of depth two. The {@code top} layer
 * takes new changes; while a compaction renders, the layer it renders is {@code frozen} beneath a new
 * top; a clear starts a top that hides everything beneath. The heap holds the changes only.
 *
 * <p>Reads take no lock (volatile reads and {@link ConcurrentHashMap} lookups); changes are made
 * under {@link #lock}, which orders them with the journal's queue. Each change made here carries the
 * local write sequence that made it, so that a change of another process read from the journal does
 * not override a local one that will land after it in the file.
 */
final class Content {
  /** A layer of changes over what lies beneath it. */
  static final class Layer {
    final ConcurrentHashMap<String, Encoded> changes = new ConcurrentHashMap<>();
    /** A clear started it: nothing beneath is visible. */
    final boolean hidesBelow;

    Layer(boolean hidesBelow) {
      this.hidesBelow = hidesBelow;
    }
  }

  /** A consistent set of layers; replaced whole, never changed but for the layers' maps. */
  static final class View {
    final @Nullable SnapshotFile base;
    final @Nullable Layer frozen;
    final Layer top;
    final long expiresAt;

    View(@Nullable SnapshotFile base, @Nullable Layer frozen, Layer top, long expiresAt) {
      this.base = base;
      this.frozen = frozen;
      this.top = top;
      this.expiresAt = expiresAt;
    }

    /** The visible entry for {@code key} (possibly a removal), or null. */
    @Nullable Encoded entry(String key) {
      Encoded e = top.changes.get(key);
      if (e != null || top.hidesBelow) {
        return e;
      }
      if (frozen != null) {
        e = frozen.changes.get(key);
        if (e != null || frozen.hidesBelow) {
          return e;
        }
      }
      return base == null ? null : fromBase(base, key);
    }

    @Nullable Encoded value(String key) {
      Encoded e = entry(key);
      return e == null || e.removed() ? null : e;
    }

    /** Whether {@code key} has a live value beneath the top layer; the snapshot's is found, not copied. */
    boolean presentBelowTop(String key) {
      if (top.hidesBelow) {
        return false;
      }
      if (frozen != null) {
        Encoded e = frozen.changes.get(key);
        if (e != null || frozen.hidesBelow) {
          return e != null && !e.removed();
        }
      }
      return base != null && inBase(base, key);
    }

    /**
     * Whether {@code clear} applies over this view: a rollover ends the period it names, or an earlier
     * one; over a later one, which another process started first, it is void.
     */
    boolean endedBy(Journal.Record clear) {
      return expiresAt <= clear.ends();
    }

    boolean baseVisible() {
      return !top.hidesBelow && (frozen == null || !frozen.hidesBelow);
    }

    /** Visits the live entries: each layer's, then the snapshot's not shadowed by a layer. */
    void forEach(SnapshotFile.EntryVisitor visitor) throws IOException {
      Set<String> seen = new HashSet<>();
      for (Layer layer : frozen == null ? new Layer[] {top} : new Layer[] {top, frozen}) {
        for (var e : layer.changes.entrySet()) {
          if (seen.add(e.getKey()) && !e.getValue().removed()) {
            visitor.visit(e.getKey(), e.getValue());
          }
        }
        if (layer.hidesBelow) {
          return;
        }
      }
      if (base != null) {
        base.live.forEach(visitor, seen);
      }
    }
  }

  /** The slot of {@code key} in the snapshot's live table, or a negative number. */
  private static long slotInBase(SnapshotFile base, String key) {
    byte[] quoted = SnapshotFile.quoted(key);
    return base.live.find(quoted, quoted.length, SnapshotFile.hash(quoted, 0, quoted.length));
  }

  private static boolean inBase(SnapshotFile base, String key) {
    return slotInBase(base, key) >= 0;
  }

  /** How many of {@code keys} the snapshot holds. */
  private static long foundInBase(@Nullable SnapshotFile base, List<String> keys) {
    if (keys.isEmpty()) {
      return 0;
    }
    SnapshotFile b = Objects.requireNonNull(base, "keys counted over a snapshot, and none");
    long found = 0;
    for (String key : keys) {
      if (inBase(b, key)) {
        found++;
      }
    }
    return found;
  }

  static @Nullable Encoded fromBase(SnapshotFile base, String key) {
    long slot = slotInBase(base, key);
    return slot < 0 ? null : base.live.value(slot);
  }

  /** Rounds of {@link #size} without the lock before it counts the rest under it. */
  private static final int MAX_COUNT_ROUNDS = 4;

  /** Orders changes here with the journal's queue; never held during I/O. */
  final ReentrantLock lock = new ReentrantLock();

  private volatile View view;
  /** Replaced whenever the content is replaced as a whole (clear, replace, expiry, reload). */
  private volatile long epoch;
  /**
   * The live entries' count, were none of the keys not looked up yet ({@link #uncounted},
   * {@link #counting}, {@link #unsettled}) in the snapshot. Finding a key in the snapshot is a random
   * read or two in a mapping that can be far larger than the CPU's caches, so a change does not: a key
   * whose first change over the snapshot counted it as new is looked up once, without the lock, when
   * the count is asked for ({@link #size}) or rendered ({@link #count}).
   */
  @GuardedBy("lock")
  private long size;
  /** Keys first changed in the top layer while only the snapshot was beneath it: see {@link #size}. */
  @GuardedBy("lock")
  private ArrayList<String> uncounted = new ArrayList<>();
  /**
   * The {@link #uncounted} keys a {@link #size} call is looking up without the lock, or null. Whatever
   * makes their lookup meaningless takes them away: a clear or replace counts anew, a freeze hands
   * them to the frozen view.
   */
  @GuardedBy("lock")
  private @Nullable List<String> counting;
  /** The frozen layer's {@link #uncounted} keys, until they are looked up; null when there are none. */
  @GuardedBy("lock")
  private @Nullable Frozen unsettled;
  /**
   * The sequence of this process's last explicit clear. Until the journal is read past it, it lands
   * after whatever is read: another process's records read meanwhile are hidden by it, and a reload of
   * the files applies it again ({@link #clearedAbove}). Kept apart from the last rollover: a rollover
   * queued behind it does not make it forgotten.
   */
  @GuardedBy("lock")
  private long localClearSeq;
  /** The sequence of this process's last rollover, remembered as the clear above. */
  @GuardedBy("lock")
  private long localRolloverSeq;
  /** The period it ends. */
  @GuardedBy("lock")
  private long localRolloverEnds;
  /** The period of the content it lands on, as far as what was read before it tells. */
  @GuardedBy("lock")
  private long localRolloverLandsOn;
  /** One {@link #size} call looks keys up at a time, so that {@link #counting} is one list. */
  private final ReentrantLock countLock = new ReentrantLock();
  /** Runs between taking keys to count and settling them: lets tests interleave changes there. */
  Runnable whileCounting = () -> {};

  Content(@Nullable SnapshotFile base, long expiresAt) {
    this.view = new View(base, null, new Layer(false), expiresAt);
    this.size = base == null ? 0 : base.live.count;
  }

  /** The content of a snapshot-format file ({@code <name>.json}), its period included, in the heap. */
  static Content of(Snapshot file) {
    Content c = new Content(null, file.expiryMillis);
    c.lock.lock();
    try {
      file.entries.forEach(c::change);
    } finally {
      c.lock.unlock();
    }
    return c;
  }

  View view() {
    return view;
  }

  long epoch() {
    return epoch;
  }

  long expiresAt() {
    return view.expiresAt;
  }

  /**
   * The live entries' count, exact. The keys not counted yet are looked up without the lock, which a
   * change needs: after a million first changes over a large snapshot, that is a million random reads
   * in its mapping, and a metrics gauge asks for this count on a timer. Keys changed meanwhile are
   * looked up in another round; the last, small by then, under the lock.
   */
  long size() {
    countLock.lock();
    try {
      for (int round = 0; ; round++) {
        List<String> keys;
        SnapshotFile base;
        Frozen pending;
        lock.lock();
        try {
          if (round == MAX_COUNT_ROUNDS || (uncounted.isEmpty() && unsettled == null)) {
            countAll();
            return size;
          }
          keys = uncounted;
          uncounted = new ArrayList<>();
          counting = keys;
          base = view.base;
          pending = unsettled;
        } finally {
          lock.unlock();
        }
        whileCounting.run();
        if (pending != null) {
          count(pending);
        }
        long found = foundInBase(base, keys);
        lock.lock();
        try {
          if (counting == keys) {
            size -= found;
            counting = null;
          }
        } finally {
          lock.unlock();
        }
      }
    } finally {
      countLock.unlock();
    }
  }

  /** The live count of a view frozen for a compaction, exact; its snapshot is read without the lock. */
  long count(Frozen frozen) {
    long found = foundInBase(frozen.view().base, frozen.uncounted());
    lock.lock();
    try {
      if (unsettled == frozen) {
        settle(found);
      }
    } finally {
      lock.unlock();
    }
    return frozen.counted() - found;
  }

  @GuardedBy("lock")
  private void settle(long found) {
    size -= found;
    unsettled = null;
  }

  /** Looks up every key not counted yet, the frozen view's against its snapshot, which is the same one. */
  @GuardedBy("lock")
  private void countAll() {
    if (unsettled != null) {
      settle(foundInBase(unsettled.view().base, unsettled.uncounted()));
    }
    size -= foundInBase(view.base, uncounted);
    uncounted = new ArrayList<>();
  }

  // ---------------------------------------------------------------- changes (under lock)

  /** Records {@code entry} (a value or a removal) for {@code key} in the top layer. */
  @GuardedBy("lock")
  void change(String key, Encoded entry) {
    View v = view;
    Encoded previous = v.top.changes.put(key, entry);
    boolean before;
    if (previous != null) {
      before = !previous.removed();
    } else if (v.frozen == null && !v.top.hidesBelow && v.base != null) {
      before = false; // see size
      uncounted.add(key);
    } else {
      before = v.presentBelowTop(key);
    }
    size += (entry.removed() ? 0 : 1) - (before ? 1 : 0);
  }

  /**
   * Empties the content and starts a period that ends at {@code expiresAt}; the local changes whose
   * sequence is above {@code keepAbove} (they land after this clear in the file) stay.
   */
  @GuardedBy("lock")
  void clear(long expiresAt, long keepAbove) {
    View v = view;
    Layer top = new Layer(true);
    long kept = 0;
    for (Layer layer : v.frozen == null ? new Layer[] {v.top} : new Layer[] {v.top, v.frozen}) {
      for (var e : layer.changes.entrySet()) {
        if (e.getValue().seq > keepAbove && top.changes.putIfAbsent(e.getKey(), e.getValue()) == null
            && !e.getValue().removed()) {
          kept++;
        }
      }
    }
    view = new View(v.base, null, top, expiresAt);
    size = kept;
    uncounted = new ArrayList<>();
    counting = null;
    unsettled = null;
    epoch++;
  }

  /**
   * {@link #clear} by this process, as its change {@code seq}, of the period that ends at {@code ends}
   * ({@link Long#MAX_VALUE}: any, an explicit clear): remembered until read past.
   */
  @GuardedBy("lock")
  void clearLocally(long expiresAt, long seq, long ends) {
    if (ends == Long.MAX_VALUE) {
      localClearSeq = seq;
    } else {
      localRolloverLandsOn = view.expiresAt;
      localRolloverSeq = seq;
      localRolloverEnds = ends;
    }
    clear(expiresAt, seq);
  }

  /** Whether this process's last clear or rollover is above {@code seq}: it lands after the changes up to there. */
  @GuardedBy("lock")
  boolean clearedAbove(long seq) {
    return localClearSeq > seq || localRolloverSeq > seq;
  }

  /** Whether an explicit clear of this process is above {@code seq}: it ends any period it lands on. */
  @GuardedBy("lock")
  boolean explicitlyClearedAbove(long seq) {
    return localClearSeq > seq;
  }

  /** Whether a rollover of this process is above {@code seq}: one applies again over a snapshot that holds it as void. */
  @GuardedBy("lock")
  boolean rolledOverAbove(long seq) {
    return localRolloverSeq > seq;
  }

  /**
   * Whether this process's clears above {@code seq}, what was read (see {@link #clearedAbove}), hide
   * {@code r}, another process's record read before they land: an explicit clear does; a rollover does
   * unless {@code r} moves the content past the period it ends. A rollover queued behind an explicit
   * clear not yet read past ends the period that clear starts, whatever lands before it: never void.
   */
  @GuardedBy("lock")
  boolean hides(Journal.Record r, long seq) {
    if (explicitlyClearedAbove(seq)) {
      return true;
    }
    boolean movesPeriod = r.op() == Journal.EXPIRY || r.op() == Journal.CLEAR && localRolloverLandsOn <= r.ends();
    return !movesPeriod || appliesOver(r.millis(), seq);
  }

  /**
   * Whether this process's clears above {@code seq} apply over a content of the period that ends at
   * {@code expiresAt}, which they land on: an explicit clear always; a rollover that is void there is
   * forgotten.
   */
  @GuardedBy("lock")
  boolean appliesOver(long expiresAt, long seq) {
    if (explicitlyClearedAbove(seq)) {
      return true;
    }
    localRolloverLandsOn = expiresAt;
    if (expiresAt <= localRolloverEnds) {
      return true;
    }
    localRolloverSeq = 0;
    return false;
  }

  /** The last clears are in the files, or never will be (their write failed): nothing is hidden by them. */
  @GuardedBy("lock")
  void forgetLocalClear() {
    localClearSeq = 0;
    localRolloverSeq = 0;
  }

  /**
   * Applies a journal record read from a file, as it stands there: the way a snapshot and its journal
   * are replayed (nothing of this process is pending in a replay).
   */
  @GuardedBy("lock")
  void apply(Journal.Record r) {
    switch (r.op()) {
      case Journal.PUT:
        change(r.key(), r.value());
        return;
      case Journal.REMOVE:
        change(r.key(), Encoded.removal(0));
        return;
      case Journal.CLEAR:
        if (view.endedBy(r)) {
          clear(r.millis(), Long.MAX_VALUE);
        }
        return;
      case Journal.EXPIRY:
        setExpiry(r.millis());
        return;
      default:
        throw new AssertionError((char) r.op());
    }
  }

  @GuardedBy("lock")
  void setExpiry(long expiresAt) {
    View v = view;
    if (v.expiresAt != expiresAt) {
      view = new View(v.base, v.frozen, v.top, expiresAt);
      epoch++;
    }
  }

  /**
   * A view frozen for a compaction to render, and what its exact count still needs: its count were no
   * key of {@code uncounted} (never changed) in its snapshot.
   */
  record Frozen(View view, long counted, List<String> uncounted) {}

  /**
   * Starts a compaction: the top layer becomes the frozen one, under a new top; {@link #count} gives
   * the frozen view's count. Changes count as they are made until it ends, so that it can end.
   */
  @GuardedBy("lock")
  Frozen freeze() {
    View v = view;
    if (v.frozen != null) {
      throw new IllegalStateException("a compaction is already rendering");
    }
    view = new View(v.base, v.top, new Layer(false), v.expiresAt);
    if (counting != null) { // being looked up by size: the frozen view's count settles them now
      uncounted.addAll(counting);
      counting = null;
    }
    Frozen frozen = new Frozen(v, size, uncounted);
    uncounted = new ArrayList<>();
    unsettled = frozen.uncounted().isEmpty() ? null : frozen;
    return frozen;
  }

  /** Abandons a compaction: the frozen layer goes back beneath the top one. */
  @GuardedBy("lock")
  void unfreeze() {
    View v = view;
    if (v.frozen == null) {
      return;
    }
    Layer merged = v.top;
    if (!v.top.hidesBelow) {
      merged = new Layer(v.frozen.hidesBelow);
      merged.changes.putAll(v.frozen.changes);
      merged.changes.putAll(v.top.changes);
      if (unsettled != null) { // the frozen layer's keys not counted yet are beneath the top again
        uncounted.addAll(unsettled.uncounted());
      }
    }
    unsettled = null;
    view = new View(v.base, null, merged, v.expiresAt);
  }

  /**
   * Ends a compaction: {@code rendered} (the frozen view written as {@code base}) is replaced by
   * {@code base}; changes made since stay on top. Whether the rendered period and this one are the
   * same, the frozen layer is gone either way: it is in {@code base}, or a clear hid it.
   */
  @GuardedBy("lock")
  void compacted(SnapshotFile base) {
    countAll(); // against the snapshot they were counted over
    View v = view;
    view = new View(base, null, v.top, v.expiresAt);
  }

  /** Replaces the whole view (a reload from the files, a replace); {@code size} is its live count. */
  @GuardedBy("lock")
  void replace(View next, long liveCount, boolean newEpoch) {
    view = next;
    size = liveCount;
    uncounted = new ArrayList<>();
    counting = null;
    unsettled = null;
    if (newEpoch) {
      epoch++;
    }
  }
}
