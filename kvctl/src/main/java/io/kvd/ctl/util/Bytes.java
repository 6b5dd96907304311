package io.kvd.ctl.util;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Locale;

/** How keys and values are written on the command line and printed: text, hex or base64. */
public enum Bytes {
  TEXT, HEX, BASE64;

  /** The bytes that {@code text} stands for in this encoding. */
  public byte[] decode(String text) {
    try {
      switch (this) {
        case HEX:
          return HexFormat.of().parseHex(text.replaceAll("\\s", ""));
        case BASE64:
          return Base64.getDecoder().decode(text.replaceAll("\\s", ""));
        default:
          return text.getBytes(StandardCharsets.UTF_8);
      }
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("not " + name().toLowerCase(Locale.ROOT)
          + ": '" + text + "' (" + e.getMessage() + ")");
    }
  }

  /** {@code bytes} in this encoding; TEXT gives raw bytes (the caller writes them as they are). */
  public String encode(byte[] bytes) {
    switch (this) {
      case HEX:
        return HexFormat.of().formatHex(bytes);
      case BASE64:
        return Base64.getEncoder().encodeToString(bytes);
      default:
        return new String(bytes, StandardCharsets.UTF_8);
    }
  }

  /** The bytes as UTF-8 text, or null when they are not valid UTF-8. */
  public static String utf8OrNull(byte[] bytes) {
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes)).toString();
    } catch (CharacterCodingException e) {
      return null;
    }
  }

  /** For a table cell: the text when it is printable UTF-8, else hex with a 0x prefix. */
  public static String display(byte[] bytes) {
    String text = utf8OrNull(bytes);
    if (text != null && text.codePoints().noneMatch(c -> Character.isISOControl(c))) {
      return text;
    }
    return "0x" + HexFormat.of().formatHex(bytes);
  }
}
