package io.tiercache.stress.faults;

import io.tiercache.stress.Cli;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * The fault suite's one entry point: {@code Faults <scenario> [--broken] [options]} runs one
 * scenario, prints its tally line, and exits 0 when every violation counter is zero, 1 when one is
 * not, 2 on a usage error or a condition this machine cannot create (the reason is printed), 3 when
 * the harness itself failed.
 *
 * <pre>java -cp ... io.tiercache.stress.faults.Faults disk-full --rounds 3
 * java -cp ... io.tiercache.stress.faults.Faults python-race --broken
 * java -cp ... io.tiercache.stress.faults.Faults lock-unlink --help</pre>
 */
@Command(name = "Faults", description = "Creates a fault for real and counts what tiercache lost, served or touched.",
    subcommands = {DiskFull.class, AsyncBacklog.class, LockUnlink.class, PythonRace.class, ReplaceCrash.class,
        ReplaceReaders.class, Expiry.class, PlantedFiles.class, RedisPassword.class, RedisRestart.class,
        CodecPlaceholders.class, Check.class})
public final class Faults implements Runnable {
  @Mixin Cli.Help help;

  @picocli.CommandLine.Spec picocli.CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    System.exit(Cli.execute(new Faults(), args));
  }

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "name a scenario");
  }
}
