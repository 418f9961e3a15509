package io.tiercache.stress;

/** The asset the harnesses write: an id and some payload, about 200 bytes of JSON. */
public record Record(String id, String writer, long sequence, String payload) {
  public static Record of(String id, String writer, long sequence) {
    return new Record(id, writer, sequence, "x".repeat(120));
  }
}
