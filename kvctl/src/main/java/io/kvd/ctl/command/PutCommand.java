package io.kvd.ctl.command;

import io.kvd.ctl.Exit;
import io.kvd.ctl.KvctlException;
import io.kvd.ctl.completion.KeyCandidates;
import io.kvd.ctl.util.Table;
import io.kvd.ctl.util.Bytes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** PUT: stores a value. */
@Command(name = "put", description = {"Store VALUE under KEY.",
    "The value comes from the argument, from --file, or from stdin (--stdin, or VALUE '-')."})
public final class PutCommand extends KvctlCommand {
  /** Bytes read from a file or stdin at most: the protocol's values are up to 10,000 bytes. */
  static final int VALUE_READ_LENGTH_MAX = 1 << 20;

  @Parameters(index = "0", paramLabel = "KEY", completionCandidates = KeyCandidates.class,
      description = "The key (up to 32 bytes).")
  String key;

  @Parameters(index = "1", arity = "0..1", paramLabel = "VALUE",
      description = "The value (up to 10,000 bytes); '-' reads it from stdin.")
  String value;

  @Option(names = "--file", paramLabel = "FILE", description = "Read the value from FILE.")
  Path file;

  @Option(names = "--stdin", description = "Read the value from stdin.")
  boolean stdin;

  @Option(names = "--version", paramLabel = "N",
      description = "The version number stored with the value (default: ${DEFAULT-VALUE}).")
  int version = 0;

  @Mixin
  DataOptions data;

  @Override
  public Integer call() {
    byte[] k = data.decode(key, "KEY");
    byte[] v = value();
    data.onSomeNode(this, node -> client().put(node, k, v, version), "put");
    session().sawKey(key);
    Map<String, Object> json = new LinkedHashMap<>();
    json.put("key", key);
    json.put("ok", true);
    json.put("valueLength", v.length);
    emit(json, () -> new Table("KEY", "RESULT").row(key, "OK (" + v.length + " bytes)"), () -> "");
    return Exit.OK;
  }

  private byte[] value() {
    int sources = (value != null ? 1 : 0) + (file != null ? 1 : 0) + (stdin ? 1 : 0);
    if (sources != 1) {
      throw new KvctlException(Exit.USAGE, "give the value once: as VALUE, --file FILE or"
          + " --stdin");
    }
    try {
      if (file != null) {
        if (Files.size(file) > VALUE_READ_LENGTH_MAX) {
          throw new KvctlException(Exit.USAGE, file + " is larger than " + VALUE_READ_LENGTH_MAX
              + " bytes");
        }
        return data.encoding() == Bytes.TEXT ? Files.readAllBytes(file)
            : data.decode(Files.readString(file).strip(), "VALUE");
      }
      if (stdin || "-".equals(value)) {
        byte[] read = session().in().readNBytes(VALUE_READ_LENGTH_MAX + 1);
        if (read.length > VALUE_READ_LENGTH_MAX) {
          throw new KvctlException(Exit.USAGE, "stdin holds more than " + VALUE_READ_LENGTH_MAX
              + " bytes");
        }
        return data.encoding() == Bytes.TEXT ? read
            : data.decode(new String(read, StandardCharsets.US_ASCII).strip(),
                "VALUE");
      }
    } catch (IOException e) {
      throw new KvctlException(Exit.LOCAL_ERROR, "cannot read the value: " + e.getMessage());
    }
    return data.decode(value, "VALUE");
  }
}
