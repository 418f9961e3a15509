package io.tiercache.stress;

import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * The harnesses' command lines (picocli): an unknown option or a bad value is a usage error with a
 * one-line reason and the usage, {@code --help} prints the usage. Exit codes: 0 the invariant held,
 * 1 it broke (the harness's own report), 2 a usage error or an unavailable facility, 3 the harness
 * itself failed (a child that never started, a timeout), with its stack trace.
 */
public final class Cli {
  public static final int BROKEN = 1;
  public static final int USAGE = CommandLine.ExitCode.USAGE;
  public static final int HARNESS_FAILED = 3;

  private Cli() {}

  /** Parses {@code args} into {@code command}'s options and runs it; returns the exit code. */
  public static int execute(Object command, String... args) {
    CommandLine cl = commandLine(command);
    cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
      PrintWriter err = commandLine.getErr();
      err.println(commandLine.getCommandName() + ": the harness failed: " + e);
      e.printStackTrace(err);
      return HARNESS_FAILED;
    });
    return cl.execute(args);
  }

  /** {@code command} with {@code args} parsed into its options, for tests that run harnesses in-process. */
  public static <T> T parse(T command, String... args) {
    commandLine(command).parseArgs(args);
    return command;
  }

  private static CommandLine commandLine(Object command) {
    return new CommandLine(command).setCaseInsensitiveEnumValuesAllowed(true);
  }

  /** {@code -h}/{@code --help}, for every harness ({@code @Mixin Cli.Help help;}). */
  public static final class Help {
    @CommandLine.Option(names = {"-h", "--help"}, usageHelp = true, description = "Show this help and exit.")
    boolean help;
  }

  /** The number after {@code name=} in a report line such as {@code torn=0 reads=12}; -1 when absent. */
  public static long field(String line, String name) {
    for (String token : line.strip().split("\\s+")) {
      if (token.startsWith(name + "=")) {
        return Long.parseLong(token.substring(name.length() + 1));
      }
    }
    return -1;
  }
}
