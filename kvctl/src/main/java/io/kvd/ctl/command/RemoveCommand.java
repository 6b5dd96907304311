package io.kvd.ctl.command;

import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.completion.KeyCandidates;
import io.kvd.ctl.util.Table;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** REMOVE: deletes a key. */
@Command(name = "remove", aliases = "rm",
    description = "Remove KEY; exit 1 when it did not exist.")
public final class RemoveCommand extends KvctlCommand {
  @Parameters(index = "0", paramLabel = "KEY", completionCandidates = KeyCandidates.class,
      description = "The key (up to 32 bytes).")
  String key;

  @Mixin
  DataOptions data;

  @Override
  public Integer call() {
    byte[] k = data.decode(key, "KEY");
    boolean removed = data.onSomeNode(this, node -> client().remove(node, k), "remove");
    session().sawKey(key);
    if (!removed) {
      throw new KvctlException(Exit.NOT_FOUND, "no such key: " + key);
    }
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("key", key);
    json.put("removed", true);
    emit(json, () -> new Table("KEY", "RESULT").row(key, "removed"), () -> "");
    return Exit.OK;
  }
}
