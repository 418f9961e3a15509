/**
 * tiercache's JCache (JSR-107) provider: {@link io.tiercache.jcache.TieredCachingProvider}, found
 * through {@code META-INF/services}, and {@link io.tiercache.jcache.TieredConfiguration}, a
 * {@code MutableConfiguration} that also chooses the store. Everything else is package-private.
 * Everything in this package is non-null unless annotated {@code @Nullable}.
 */
@NullMarked
package io.tiercache.jcache;

import org.jspecify.annotations.NullMarked;
