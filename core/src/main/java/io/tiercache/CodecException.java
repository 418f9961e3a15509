package io.tiercache;

import java.lang.reflect.Type;
import org.jspecify.annotations.Nullable;

/** A value could not be encoded to JSON or decoded from it. The message names the type and the reason. */
public final class CodecException extends CacheException {
  private static final long serialVersionUID = 1L;

  public CodecException(Type type, String reason, @Nullable Throwable cause) {
    super("cannot convert " + type.getTypeName() + ": " + reason, null, cause);
  }
}
