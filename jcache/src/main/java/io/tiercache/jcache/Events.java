package io.tiercache.jcache;

import java.lang.System.Logger.Level;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.Executor;
import javax.cache.Cache;
import javax.cache.configuration.CacheEntryListenerConfiguration;
import javax.cache.configuration.Factory;
import javax.cache.configuration.MutableCacheEntryListenerConfiguration;
import javax.cache.event.CacheEntryCreatedListener;
import javax.cache.event.CacheEntryEventFilter;
import javax.cache.event.CacheEntryExpiredListener;
import javax.cache.event.CacheEntryListener;
import javax.cache.event.CacheEntryListenerException;
import javax.cache.event.CacheEntryRemovedListener;
import javax.cache.event.CacheEntryUpdatedListener;
import javax.cache.event.EventType;
import org.jspecify.annotations.Nullable;

/**
 * Delivers a cache's events to its registered listeners. Changes are published from inside the
 * per-key atomic section that makes them, so each listener sees one key's events in the order
 * they happened; delivery runs on the executor, one key's events chained one after another.
 * A synchronous listener's deliveries are collected per thread and awaited by the operation
 * before it returns ({@link #awaitSynchronous}); a listener's exception then reaches the caller as
 * a {@link CacheEntryListenerException}.
 */
final class Events<K, V> {
  private static final System.Logger LOG = System.getLogger(Events.class.getName());

  /** A registered listener, its filter and its configuration (which identifies it). */
  record Registration<K, V>(CacheEntryListenerConfiguration<K, V> configuration,
      CacheEntryListener<? super K, ? super V> listener, @Nullable CacheEntryEventFilter<? super K, ? super V> filter) {

    boolean accepts(EventType type) {
      return switch (type) {
        case CREATED -> listener instanceof CacheEntryCreatedListener;
        case UPDATED -> listener instanceof CacheEntryUpdatedListener;
        case REMOVED -> listener instanceof CacheEntryRemovedListener;
        case EXPIRED -> listener instanceof CacheEntryExpiredListener;
      };
    }

    boolean passes(EntryEvent<K, V> event) {
      try {
        return filter == null || filter.evaluate(event);
      } catch (RuntimeException e) {
        LOG.log(Level.WARNING, "tiercache: a cache entry event filter failed; the event is not delivered", e);
        return false;
      }
    }

    @SuppressWarnings("unchecked")
    @Nullable CacheEntryListenerException deliver(EntryEvent<K, V> event) {
      try {
        if (event.getSource().isClosed()) {
          return null;
        }
        switch (event.getEventType()) {
          case CREATED -> ((CacheEntryCreatedListener<K, V>) listener).onCreated(event);
          case UPDATED -> ((CacheEntryUpdatedListener<K, V>) listener).onUpdated(event);
          case REMOVED -> ((CacheEntryRemovedListener<K, V>) listener).onRemoved(event);
          case EXPIRED -> ((CacheEntryExpiredListener<K, V>) listener).onExpired(event);
        }
        return null;
      } catch (CacheEntryListenerException e) {
        return e;
      } catch (RuntimeException e) {
        return new CacheEntryListenerException(e);
      }
    }
  }

  private final Executor executor;
  /** Per registration, the last delivery of each key (by its stored name) still in flight. */
  private final ConcurrentMap<Registration<K, V>, ConcurrentMap<String, CompletableFuture<@Nullable CacheEntryListenerException>>>
      queues = new ConcurrentHashMap<>();
  private final ThreadLocal<List<CompletableFuture<@Nullable CacheEntryListenerException>>> pending =
      ThreadLocal.withInitial(ArrayList::new);

  Events(Executor executor) {
    this.executor = executor;
  }

  @SuppressWarnings("unchecked")
  void register(CacheEntryListenerConfiguration<K, V> configuration) {
    Factory<CacheEntryListener<? super K, ? super V>> listenerFactory = configuration.getCacheEntryListenerFactory();
    if (listenerFactory == null) {
      return;
    }
    Factory<CacheEntryEventFilter<? super K, ? super V>> filterFactory = configuration.getCacheEntryEventFilterFactory();
    queues.putIfAbsent(new Registration<>(new MutableCacheEntryListenerConfiguration<>(configuration),
        listenerFactory.create(), filterFactory == null ? null : filterFactory.create()), new ConcurrentHashMap<>());
  }

  void deregister(CacheEntryListenerConfiguration<K, V> configuration) {
    MutableCacheEntryListenerConfiguration<K, V> key = new MutableCacheEntryListenerConfiguration<>(configuration);
    queues.keySet().removeIf(r -> r.configuration().equals(key));
  }

  Set<Registration<K, V>> registrations() {
    return queues.keySet();
  }

  /** Whether anyone listens: when not, callers need not prepare events. */
  boolean active() {
    return !queues.isEmpty();
  }

  void publish(Cache<K, V> source, EventType type, K key, String name, @Nullable Stored value,
      @Nullable Stored oldValue, ValueCodec codec) {
    EntryEvent<K, V> event = null;
    for (var entry : queues.entrySet()) {
      Registration<K, V> registration = entry.getKey();
      if (!registration.accepts(type)) {
        continue;
      }
      if (event == null) {
        event = new EntryEvent<>(source, type, key, value, oldValue, codec);
      }
      if (!registration.passes(event)) {
        continue;
      }
      EntryEvent<K, V> e = event;
      var queue = entry.getValue();
      CompletableFuture<@Nullable CacheEntryListenerException> delivery = queue.compute(name, (n, previous) ->
          previous == null
              ? CompletableFuture.supplyAsync(() -> registration.deliver(e), executor)
              : previous.handleAsync((r, x) -> registration.deliver(e), executor));
      delivery.whenComplete((r, x) -> queue.remove(name, delivery));
      if (registration.configuration().isSynchronous()) {
        pending.get().add(delivery);
      }
    }
  }

  /**
   * Waits for this thread's synchronous deliveries.
   *
   * @throws CacheEntryListenerException the first listener failure (later ones suppressed)
   */
  void awaitSynchronous() {
    CacheEntryListenerException failure = awaitSynchronousFailure();
    if (failure != null) {
      throw failure;
    }
  }

  /** Waits for this thread's synchronous deliveries and returns the first failure. */
  @Nullable CacheEntryListenerException awaitSynchronousFailure() {
    List<CompletableFuture<@Nullable CacheEntryListenerException>> mine = pending.get();
    if (mine.isEmpty()) {
      return null;
    }
    List<CompletableFuture<@Nullable CacheEntryListenerException>> deliveries = List.copyOf(mine);
    mine.clear();
    CacheEntryListenerException first = null;
    for (CompletableFuture<@Nullable CacheEntryListenerException> delivery : deliveries) {
      CacheEntryListenerException failure;
      try {
        failure = delivery.join();
      } catch (CompletionException e) {
        if (e.getCause() instanceof Error error) {
          throw error;
        }
        failure = new CacheEntryListenerException(e.getCause());
      }
      if (failure != null) {
        if (first == null) {
          first = failure;
        } else if (first != failure) {
          first.addSuppressed(failure);
        }
      }
    }
    return first;
  }

  /** Forgets this thread's synchronous deliveries (the operation failed before it could wait). */
  void ignoreSynchronous() {
    pending.get().clear();
  }
}
