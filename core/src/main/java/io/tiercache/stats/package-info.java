/** Statistics of a {@link io.tiercache.TieredCache}: {@link io.tiercache.stats.CacheStats}. */
@NullMarked
package io.tiercache.stats;

import org.jspecify.annotations.NullMarked;
