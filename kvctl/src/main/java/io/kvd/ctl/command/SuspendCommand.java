package io.kvd.ctl.command;

import picocli.CommandLine.Command;

/** SIGSTOP to a local node: it freezes, as a long GC pause or a hung VM would. */
@Command(name = "suspend", description = "Freeze local kvd processes (SIGSTOP), as a long pause"
    + " would; resume undoes it.")
public final class SuspendCommand extends SignalCommand {
  @Override
  String signal() {
    return "STOP";
  }

  @Override
  String done() {
    return "suspended";
  }
}
