package io.tiercache.jcache;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.NotSerializableException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.ObjectStreamClass;
import java.io.Serializable;
import javax.cache.CacheException;

/**
 * Java serialization, the fallback encoding for keys and values that tiercache's JSON does not
 * represent exactly. Classes are resolved through the cache manager's class loader; the JVM-wide
 * deserialization filter ({@code jdk.serialFilter}) applies.
 */
final class Serialization {
  private Serialization() {}

  /**
   * @throws IllegalArgumentException if {@code object} (or something it holds) is not serializable
   */
  static byte[] serialize(Object object, String what) {
    if (!(object instanceof Serializable)) {
      throw notSerializable(object.getClass().getName(), what);
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(128);
    try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
      out.writeObject(object);
    } catch (NotSerializableException e) {
      throw notSerializable(e.getMessage(), what);
    } catch (IOException e) {
      throw new CacheException("cannot serialize the " + what + " of class " + object.getClass().getName()
          + ": " + e.getMessage(), e);
    }
    return bytes.toByteArray();
  }

  private static IllegalArgumentException notSerializable(String className, String what) {
    return new IllegalArgumentException("cannot store the " + what + " by value: " + className
        + " is not Serializable (and not a type tiercache maps to JSON exactly)");
  }

  static Object deserialize(byte[] bytes, ClassLoader loader, String what) {
    try (ObjectInputStream in = new LoaderObjectInputStream(new ByteArrayInputStream(bytes), loader)) {
      return in.readObject();
    } catch (IOException | ClassNotFoundException e) {
      throw new CacheException("cannot deserialize a stored " + what + ": " + e, e);
    }
  }

  private static final class LoaderObjectInputStream extends ObjectInputStream {
    private final ClassLoader loader;

    LoaderObjectInputStream(InputStream in, ClassLoader loader) throws IOException {
      super(in);
      this.loader = loader;
    }

    @Override
    protected Class<?> resolveClass(ObjectStreamClass desc) throws IOException, ClassNotFoundException {
      try {
        return Class.forName(desc.getName(), false, loader);
      } catch (ClassNotFoundException e) {
        return super.resolveClass(desc); // primitives and the platform's classes
      }
    }
  }
}
