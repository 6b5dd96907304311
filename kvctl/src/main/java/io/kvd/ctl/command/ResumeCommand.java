package io.kvd.ctl.command;

import picocli.CommandLine.Command;

/** SIGCONT to a local node suspended before. */
@Command(name = "resume", description = "Resume local kvd processes frozen by suspend (SIGCONT).")
public final class ResumeCommand extends SignalCommand {
  @Override
  String signal() {
    return "CONT";
  }

  @Override
  String done() {
    return "resumed";
  }
}
