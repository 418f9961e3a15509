package io.tiercache.jmh.report;

/** What a comparison or a goal concluded. */
enum Verdict {
  /** The whole interval clears the threshold. */
  PASS("PASS"),
  /** The whole interval fails it. */
  MISS("MISS"),
  /** The interval straddles the threshold: more replicates, or a quieter machine, would decide. */
  INCONCLUSIVE("INCONCLUSIVE"),
  /** A row the goal needs was not measured in this run. */
  NO_DATA("NO DATA"),
  /** Measured and shown, not judged (more threads than cores, or a comparison without a goal). */
  REPORTED("reported");

  final String label;

  Verdict(String label) {
    this.label = label;
  }

  /** How bad a verdict is when several rows make up one goal: the worst row decides. */
  int severity() {
    switch (this) {
      case MISS: return 4;
      case NO_DATA: return 3;
      case INCONCLUSIVE: return 2;
      case PASS: return 1;
      default: return 0;
    }
  }
}
