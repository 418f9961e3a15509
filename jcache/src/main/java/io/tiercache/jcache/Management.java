package io.tiercache.jcache;

import java.lang.management.ManagementFactory;
import javax.cache.Cache;
import javax.cache.CacheException;
import javax.cache.configuration.CompleteConfiguration;
import javax.cache.management.CacheMXBean;
import javax.cache.management.CacheStatisticsMXBean;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.MalformedObjectNameException;
import javax.management.ObjectName;
import javax.management.StandardMBean;

/**
 * A cache's MXBeans in the platform MBean server, named as the specification and its TCK name
 * them: {@code javax.cache:type=CacheConfiguration|CacheStatistics,CacheManager=<uri>,Cache=<name>}
 * (with {@code , : = \n} replaced by {@code .}).
 */
final class Management {
  private Management() {}

  enum Type {
    CacheConfiguration(CacheMXBean.class),
    CacheStatistics(CacheStatisticsMXBean.class);

    final Class<?> mxBean;

    Type(Class<?> mxBean) {
      this.mxBean = mxBean;
    }
  }

  @SuppressWarnings({"unchecked", "rawtypes"})
  static void register(Cache<?, ?> cache, Type type, Object bean) {
    MBeanServer server = ManagementFactory.getPlatformMBeanServer();
    ObjectName name = name(cache, type);
    try {
      if (!server.isRegistered(name)) {
        server.registerMBean(new StandardMBean(bean, (Class) type.mxBean, true), name);
      }
    } catch (JMException e) {
      throw new CacheException("cannot register the MBean " + name, e);
    }
  }

  static void unregister(Cache<?, ?> cache, Type type) {
    MBeanServer server = ManagementFactory.getPlatformMBeanServer();
    ObjectName name = name(cache, type);
    try {
      if (server.isRegistered(name)) {
        server.unregisterMBean(name);
      }
    } catch (JMException e) {
      throw new CacheException("cannot unregister the MBean " + name, e);
    }
  }

  static ObjectName name(Cache<?, ?> cache, Type type) {
    String name = "javax.cache:type=" + type + ",CacheManager=" + safe(cache.getCacheManager().getURI().toString())
        + ",Cache=" + safe(cache.getName());
    try {
      return new ObjectName(name);
    } catch (MalformedObjectNameException e) {
      throw new CacheException("invalid MBean name " + name, e);
    }
  }

  private static String safe(String s) {
    return s.replaceAll("[,:=\n]", ".");
  }

  /** The {@code CacheConfiguration} MXBean: the cache's configuration as it is now. */
  record ConfigurationBean(Cache<?, ?> cache) implements CacheMXBean {
    private CompleteConfiguration<?, ?> configuration() {
      return cache.getConfiguration(CompleteConfiguration.class);
    }

    @Override
    public String getKeyType() {
      return configuration().getKeyType().getName();
    }

    @Override
    public String getValueType() {
      return configuration().getValueType().getName();
    }

    @Override
    public boolean isReadThrough() {
      return configuration().isReadThrough();
    }

    @Override
    public boolean isWriteThrough() {
      return configuration().isWriteThrough();
    }

    @Override
    public boolean isStoreByValue() {
      return configuration().isStoreByValue();
    }

    @Override
    public boolean isStatisticsEnabled() {
      return configuration().isStatisticsEnabled();
    }

    @Override
    public boolean isManagementEnabled() {
      return configuration().isManagementEnabled();
    }
  }
}
