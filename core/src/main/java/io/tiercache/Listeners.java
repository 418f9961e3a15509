package io.tiercache;

import java.util.concurrent.CopyOnWriteArrayList;

/** The front tiers attached to one store, told which keys other writers changed. */
final class Listeners {
  private final CopyOnWriteArrayList<PersistentStore.Listener> listeners = new CopyOnWriteArrayList<>();

  void add(PersistentStore.Listener listener) {
    listeners.add(listener);
  }

  void remove(PersistentStore.Listener listener) {
    listeners.remove(listener);
  }

  /** Tells every listener but {@code origin} (null: all) that {@code key} changed; null key: everything. */
  void publish(PersistentStore.Listener origin, String key) {
    for (PersistentStore.Listener l : listeners) {
      if (l != origin) {
        if (key == null) {
          l.invalidateAll();
        } else {
          l.invalidate(key);
        }
      }
    }
  }
}
