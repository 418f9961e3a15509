/**
 * tiercache: a two-tier cache (Caffeine in memory, over files shared by processes) and the Python
 * SDK's {@code AssetCache} in Java.
 *
 * <p>Start with {@link io.tiercache.AssetCache#open(Class)} for the Python SDK's API, or
 * {@link io.tiercache.TieredCache#builder(Class, Class)} for the general cache. Everything in this
 * package is non-null unless annotated {@code @Nullable}.
 */
@NullMarked
package io.tiercache;

import org.jspecify.annotations.NullMarked;
