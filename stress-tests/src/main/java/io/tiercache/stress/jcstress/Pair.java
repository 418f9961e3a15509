package io.tiercache.stress.jcstress;

/** A value with two fields, so that a half-built (torn) value would show. */
public record Pair(int a, int b) {}
