package io.tiercache;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Selects the Chronicle Map store without loading Chronicle Map: the library is optional, needs
 * JVM flags on JDK 17+, and looks up an analytics host when it first loads unless told not to.
 * Nothing here touches a Chronicle class until {@link #requireUsable} has passed.
 */
final class ChronicleSupport {
  private ChronicleSupport() {}

  /** The JVM flags Chronicle Map needs on JDK 17+, as they are given on the command line. */
  static final List<String> FLAGS = List.of(
      "--add-opens java.base/java.lang=ALL-UNNAMED",
      "--add-opens java.base/java.lang.reflect=ALL-UNNAMED",
      "--add-exports java.base/sun.nio.ch=ALL-UNNAMED",
      "--add-exports java.base/jdk.internal.ref=ALL-UNNAMED",
      "--add-exports jdk.compiler/com.sun.tools.javac.file=ALL-UNNAMED");

  static final StoreProvider PROVIDER = new StoreProvider() {
    @Override
    public Object location(StoreConfig config) {
      return config.canonicalFile(config.files().chronicleMap());
    }

    @Override
    public java.nio.file.Path file(StoreConfig config) {
      return config.files().chronicleMap();
    }

    @Override
    public PersistentStore open(StoreConfig config) {
      requireUsable();
      return ChronicleStore.open(config, (StoreSpec.ChronicleMap) config.spec());
    }
  };

  /**
   * Switches Chronicle's analytics off (unless the application decided otherwise) and checks that
   * the library is present and the JVM flags are given.
   *
   * @throws CacheException naming the missing library or every missing flag
   */
  static synchronized void requireUsable() {
    // Before any Chronicle class initializes: an SDK's cache must not reach out to the network.
    if (System.getProperty("chronicle.analytics.disable") == null) {
      System.setProperty("chronicle.analytics.disable", "true");
    }
    if (System.getProperty("chronicle.announcer.disable") == null) {
      System.setProperty("chronicle.announcer.disable", "true");
    }
    Module chronicle;
    try {
      chronicle = Class.forName("net.openhft.chronicle.map.ChronicleMap", false,
          ChronicleSupport.class.getClassLoader()).getModule();
    } catch (ClassNotFoundException e) {
      throw new CacheException("the Chronicle Map store needs net.openhft:chronicle-map on the class path"
          + " (an optional dependency of tiercache-core)", null, e);
    }
    List<String> missing = missingFlags(chronicle);
    if (!missing.isEmpty()) {
      throw new CacheException("the Chronicle Map store needs these JVM flags on JDK 17+, which this JVM"
          + " was started without: " + String.join(" ", missing), null);
    }
  }

  /** The flags of {@link #FLAGS} whose effect {@code target} does not have. */
  static List<String> missingFlags(Module target) {
    Module base = Object.class.getModule();
    List<String> missing = new ArrayList<>();
    if (!base.isOpen("java.lang", target)) {
      missing.add(FLAGS.get(0));
    }
    if (!base.isOpen("java.lang.reflect", target)) {
      missing.add(FLAGS.get(1));
    }
    if (!base.isExported("sun.nio.ch", target)) {
      missing.add(FLAGS.get(2));
    }
    if (!base.isExported("jdk.internal.ref", target)) {
      missing.add(FLAGS.get(3));
    }
    // A runtime image without the compiler has no module to export from; Chronicle copes.
    Optional<Module> compiler = ModuleLayer.boot().findModule("jdk.compiler");
    if (compiler.isPresent() && !compiler.get().isExported("com.sun.tools.javac.file", target)) {
      missing.add(FLAGS.get(4));
    }
    return missing;
  }
}
