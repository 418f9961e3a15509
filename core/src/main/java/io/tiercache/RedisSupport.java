package io.tiercache;

import java.nio.file.Path;

/**
 * Selects {@link RedisStore}. Free of Lettuce types, so that the builders can name it while
 * Lettuce (an optional dependency) is absent: only {@link StoreProvider#open} loads the
 * Lettuce-based classes, after checking that they are there.
 */
final class RedisSupport {
  private RedisSupport() {}

  /**
   * Where a Redis-backed cache lives. The whole URI, credentials included, is part of its identity:
   * an open with other credentials must authenticate for itself, never share a store opened with
   * the right ones. Only the URI without credentials is ever shown.
   */
  record Location(StoreSpec.Redis server, String name) {
    @Override
    public String toString() {
      return server.displayUri() + "#" + name;
    }
  }

  static final StoreProvider PROVIDER = new StoreProvider() {
    @Override
    public Object location(StoreConfig config) {
      return new Location((StoreSpec.Redis) config.spec(), config.name());
    }

    @Override
    public PersistentStore open(StoreConfig config) {
      StoreSpec.Redis server = (StoreSpec.Redis) config.spec();
      requireLettuce(server);
      return RedisStore.open(config, server, location(config).toString());
    }

    @Override
    public Path file(StoreConfig config) {
      return null;
    }
  };

  /** Fails with a message naming the missing dependency unless Lettuce is on the class path. */
  static void requireLettuce(StoreSpec.Redis server) {
    try {
      Class.forName("io.lettuce.core.RedisClient", false, RedisSupport.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      throw new CacheException("the Redis store needs io.lettuce:lettuce-core (6.x) on the class path; it is an "
          + "optional dependency of tiercache-core, add it to use " + server.displayUri(), null, e);
    }
  }
}
