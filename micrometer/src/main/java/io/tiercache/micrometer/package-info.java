/** Micrometer meters for tiercache: {@link io.tiercache.micrometer.TieredCacheMetrics}. */
package io.tiercache.micrometer;
