package io.tiercache;

import java.net.URI;

/**
 * Selects {@link RedisStore}. Free of Lettuce types, so that the builders can name it while
 * Lettuce (an optional dependency) is absent: only {@link #open} loads the Lettuce-based classes.
 */
final class RedisStoreType implements StoreType {
  static final RedisStoreType INSTANCE = new RedisStoreType();

  private RedisStoreType() {}

  /** Fails with a message naming the missing dependency unless Lettuce is on the class path. */
  static void requireLettuce(URI uri) {
    try {
      Class.forName("io.lettuce.core.RedisClient", false, RedisStoreType.class.getClassLoader());
    } catch (ClassNotFoundException | LinkageError e) {
      throw new CacheException("the Redis store needs io.lettuce:lettuce-core (6.x) on the class path; it is an "
          + "optional dependency of tiercache-core, add it to use " + display(uri), null, e);
    }
  }

  /** The URI without credentials: it appears in messages and the registry key. */
  static String display(URI uri) {
    return uri.toString().replaceFirst("^([A-Za-z][A-Za-z0-9+.-]*://)[^/@]*@", "$1");
  }

  @Override
  public Object location(StoreSettings settings) {
    return display(settings.redisUri) + "#" + settings.name;
  }

  @Override
  public PersistentStore open(StoreSettings settings) {
    return RedisStore.open(settings, location(settings).toString());
  }

  @Override
  public String describe(StoreSettings s) {
    return "redis: durability=" + s.durability + ", expireAfter=" + s.expireAfter + ", redisTimeout="
        + s.redisTimeout + ", lockTimeout=" + s.lockTimeout;
  }
}
