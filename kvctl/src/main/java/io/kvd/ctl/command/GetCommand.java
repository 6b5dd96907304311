package io.kvd.ctl.command;

import io.kvd.client.Versioned;
import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.completion.KeyCandidates;
import io.kvd.ctl.util.Bytes;
import io.kvd.ctl.util.Table;
import java.io.PrintStream;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;

/** GET: prints a key's value. */
@Command(name = "get", description = {"Print the value of KEY; exit 1 when it does not exist.",
    "Piped (plain output), the value's bytes are written exactly as stored, without a newline;"
        + " with --hex or --base64, encoded and followed by a newline."})
public final class GetCommand extends KvctlCommand {
  @Parameters(index = "0", paramLabel = "KEY", completionCandidates = KeyCandidates.class,
      description = "The key (up to 32 bytes).")
  String key;

  @Mixin
  DataOptions data;

  @Override
  public Integer call() {
    byte[] k = data.decode(key, "KEY");
    Optional<Versioned> found = data.onSomeNode(this, node -> client().get(node, k), "get");
    session().sawKey(key);
    if (found.isEmpty()) {
      throw new KvctlException(Exit.NOT_FOUND, "no such key: " + key);
    }
    byte[] value = found.get().value();
    Bytes encoding = data.encoding();
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("key", key);
    json.put("value", Bytes.utf8OrNull(value));
    json.put("valueBase64", Base64.getEncoder().encodeToString(value));
    json.put("version", found.get().version());
    switch (format()) {
      case PLAIN: {
        PrintStream out = session().out();
        if (encoding == Bytes.TEXT) {
          out.write(value, 0, value.length);
        } else {
          out.println(encoding.encode(value));
        }
        out.flush();
        break;
      }
      default:
        emit(json, () -> new Table("KEY", "VALUE", "VERSION").row(key,
            encoding == Bytes.TEXT ? Bytes.display(value) : encoding.encode(value),
            found.get().version()), null);
        break;
    }
    return Exit.OK;
  }
}
