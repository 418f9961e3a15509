package io.tiercache.jcache;

import java.net.URI;
import java.nio.file.Path;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicInteger;
import javax.cache.Caching;
import javax.cache.configuration.MutableConfiguration;
import javax.cache.spi.CachingProvider;
import org.springframework.cache.CacheManager;
import org.springframework.cache.annotation.Cacheable;
import org.springframework.cache.annotation.EnableCaching;
import org.springframework.cache.jcache.JCacheCacheManager;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.core.env.Environment;
import org.springframework.core.env.MapPropertySource;

/**
 * A Spring application that caches with tiercache through JCache, configured as Spring Boot's
 * {@code spring.cache.jcache.provider} and {@code spring.cache.jcache.config} properties say:
 * the provider by class name, the cache manager by URI (here, the cache directory).
 */
@Configuration
@EnableCaching
public class SpringApp {
  public record Model(String id, String name) {}

  /** The application's slow lookup; {@link #calls} counts the times it really ran. */
  public static class ModelService {
    private final AtomicInteger calls = new AtomicInteger();

    /** A method, not the field: the bean is Spring's proxy, which delegates methods. */
    public int calls() {
      return calls.get();
    }

    @Cacheable("models")
    public Model find(String id) {
      calls.incrementAndGet();
      return new Model(id, "model " + id);
    }
  }

  @Bean(destroyMethod = "close")
  public javax.cache.CacheManager jcacheManager(Environment env) {
    CachingProvider provider = Caching.getCachingProvider(env.getRequiredProperty("spring.cache.jcache.provider"));
    Properties properties = new Properties();
    properties.setProperty(TieredCachingProvider.STORE, env.getRequiredProperty(TieredCachingProvider.STORE));
    javax.cache.CacheManager manager = provider.getCacheManager(
        URI.create(env.getRequiredProperty("spring.cache.jcache.config")), SpringApp.class.getClassLoader(), properties);
    manager.createCache("models", new MutableConfiguration<>().setStatisticsEnabled(true));
    return manager;
  }

  @Bean
  public CacheManager cacheManager(javax.cache.CacheManager jcacheManager) {
    return new JCacheCacheManager(jcacheManager);
  }

  @Bean
  public ModelService modelService() {
    return new ModelService();
  }

  /** A running application on the caches in {@code directory}, kept in {@code store}. */
  static AnnotationConfigApplicationContext start(Path directory, String store) {
    AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext();
    context.getEnvironment().getPropertySources().addFirst(new MapPropertySource("application", Map.of(
        "spring.cache.jcache.provider", TieredCachingProvider.class.getName(),
        "spring.cache.jcache.config", directory.toUri().toString(),
        TieredCachingProvider.STORE, store)));
    context.register(SpringApp.class);
    context.refresh();
    return context;
  }

  /**
   * The same application in another JVM: {@code SpringApp <dir> <store>} looks up models a and b
   * and prints how many lookups really ran.
   */
  public static void main(String[] args) {
    try (AnnotationConfigApplicationContext context = start(Path.of(args[0]), args[1])) {
      ModelService service = context.getBean(ModelService.class);
      Model a = service.find("a");
      Model b = service.find("b");
      System.out.println("calls=" + service.calls() + " a=" + a.name() + " b=" + b.name());
    }
  }
}
