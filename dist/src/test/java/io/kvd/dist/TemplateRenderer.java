package io.kvd.dist;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Renders a terraform template file (templatefile()) in exactly the subset of the template
 * language that the module's cloud-init templates use, with terraform's semantics:
 * <ul>
 *   <li>{@code ${name}}: a variable (a string, number or bool);
 *   <li>{@code %{ for x in name }} ... {@code %{ endfor }}: repeats its body for each element of a
 *       list variable, with {@code ${x}} the element;
 *   <li>the strip markers {@code ~} inside either kind of sequence: {@code ~}} removes the
 *       whitespace that begins the literal after it, {@code ${~} / {@code %{~} the whitespace that
 *       ends the literal before it, a literal ending at the end of its line as terraform's scanner
 *       splits them (so a directive alone on its line with {@code ~}} takes its own newline but
 *       not the next line's indentation);
 *   <li>the escapes {@code $${} and {@code %%{}.
 * </ul>
 * Anything else in a sequence (an expression, a function call, an if directive, a variable that
 * was not given, a list interpolated as a string) fails with an IllegalArgumentException, so a
 * test cannot pass on a template terraform would render differently or reject.
 */
final class TemplateRenderer {
  private static final Pattern INTERP =
      Pattern.compile("\\$\\{(~?)\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*(~?)\\}");
  private static final Pattern FOR = Pattern.compile(
      "%\\{(~?)\\s*for\\s+([A-Za-z_][A-Za-z0-9_]*)\\s+in\\s+([A-Za-z_][A-Za-z0-9_]*)\\s*(~?)\\}");
  private static final Pattern ENDFOR = Pattern.compile("%\\{(~?)\\s*endfor\\s*(~?)\\}");

  private TemplateRenderer() {}

  private abstract static class Token {
    boolean stripBefore;
    boolean stripAfter;
  }

  private static final class Literal extends Token {
    String text;

    Literal(String text) {
      this.text = text;
    }
  }

  private static final class Interp extends Token {
    final String name;

    Interp(String name) {
      this.name = name;
    }
  }

  private static final class For extends Token {
    final String var;
    final String collection;
    final List<Token> body = new ArrayList<>();

    For(String var, String collection) {
      this.var = var;
      this.collection = collection;
    }
  }

  private static final class EndFor extends Token {}

  static String render(String template, Map<String, ?> vars) {
    List<Token> tokens = tokenize(template);
    strip(tokens);
    List<Token> tree = new ArrayList<>();
    int end = nest(tokens, 0, tree, false);
    if (end != tokens.size()) {
      throw new IllegalArgumentException("endfor without for");
    }
    StringBuilder out = new StringBuilder();
    emit(tree, new HashMap<>(vars), out);
    return out.toString();
  }

  /** Literals (each ending at a newline, or where a sequence begins) and sequences. */
  private static List<Token> tokenize(String t) {
    List<Token> tokens = new ArrayList<>();
    StringBuilder literal = new StringBuilder();
    int i = 0;
    while (i < t.length()) {
      char c = t.charAt(i);
      if ((c == '$' || c == '%') && t.startsWith("" + c + c + "{", i)) {
        literal.append(c).append('{');
        i += 3;
      } else if ((c == '$' || c == '%') && t.startsWith(c + "{", i)) {
        flush(literal, tokens);
        int close = t.indexOf('}', i);
        if (close < 0) {
          throw new IllegalArgumentException("unterminated sequence at " + where(t, i));
        }
        String seq = t.substring(i, close + 1);
        Matcher m;
        Token token;
        if ((m = INTERP.matcher(seq)).matches()) {
          token = new Interp(m.group(2));
          token.stripBefore = !m.group(1).isEmpty();
          token.stripAfter = !m.group(3).isEmpty();
        } else if ((m = FOR.matcher(seq)).matches()) {
          token = new For(m.group(2), m.group(3));
          token.stripBefore = !m.group(1).isEmpty();
          token.stripAfter = !m.group(4).isEmpty();
        } else if ((m = ENDFOR.matcher(seq)).matches()) {
          token = new EndFor();
          token.stripBefore = !m.group(1).isEmpty();
          token.stripAfter = !m.group(2).isEmpty();
        } else {
          throw new IllegalArgumentException("template syntax outside the supported subset: "
              + seq + " at " + where(t, i));
        }
        tokens.add(token);
        i = close + 1;
      } else {
        literal.append(c);
        i++;
        if (c == '\n') {
          flush(literal, tokens);
        }
      }
    }
    flush(literal, tokens);
    return tokens;
  }

  private static void flush(StringBuilder literal, List<Token> tokens) {
    if (literal.length() > 0) {
      tokens.add(new Literal(literal.toString()));
      literal.setLength(0);
    }
  }

  /** Applies the strip markers to the literals next to each sequence. */
  private static void strip(List<Token> tokens) {
    for (int i = 0; i < tokens.size(); i++) {
      Token token = tokens.get(i);
      if (token.stripBefore && i > 0 && tokens.get(i - 1) instanceof Literal before) {
        before.text = before.text.replaceAll("\\s+\\z", "");
      }
      if (token.stripAfter && i + 1 < tokens.size() && tokens.get(i + 1) instanceof Literal after) {
        after.text = after.text.replaceAll("^\\s+", "");
      }
    }
  }

  /** Moves the tokens of each for's body into it; returns where an endfor (or the end) is. */
  private static int nest(List<Token> tokens, int from, List<Token> into, boolean inFor) {
    int i = from;
    while (i < tokens.size()) {
      Token token = tokens.get(i);
      if (token instanceof EndFor) {
        if (!inFor) {
          throw new IllegalArgumentException("endfor without for");
        }
        return i;
      }
      into.add(token);
      if (token instanceof For loop) {
        i = nest(tokens, i + 1, loop.body, true);
        if (i >= tokens.size()) {
          throw new IllegalArgumentException("for " + loop.var + " without endfor");
        }
      }
      i++;
    }
    return i;
  }

  private static void emit(List<Token> tokens, Map<String, Object> vars, StringBuilder out) {
    for (Token token : tokens) {
      if (token instanceof Literal literal) {
        out.append(literal.text);
      } else if (token instanceof Interp interp) {
        out.append(scalar(interp.name, value(interp.name, vars)));
      } else if (token instanceof For loop) {
        Object collection = value(loop.collection, vars);
        if (!(collection instanceof List<?> items)) {
          throw new IllegalArgumentException("for over " + loop.collection + ", not a list");
        }
        for (Object item : items) {
          Map<String, Object> scope = new HashMap<>(vars);
          scope.put(loop.var, item);
          emit(loop.body, scope, out);
        }
      }
    }
  }

  private static Object value(String name, Map<String, Object> vars) {
    if (!vars.containsKey(name)) {
      throw new IllegalArgumentException("variable " + name + " is not among the template's"
          + " variables " + vars.keySet());
    }
    return vars.get(name);
  }

  private static String scalar(String name, Object value) {
    if (value instanceof String s) {
      return s;
    }
    if (value instanceof BigDecimal n) {
      return n.stripTrailingZeros().toPlainString();
    }
    if (value instanceof Integer || value instanceof Long || value instanceof Boolean) {
      return value.toString();
    }
    throw new IllegalArgumentException("${" + name + "} is not a string, number or bool: " + value);
  }

  private static String where(String t, int i) {
    int line = 1;
    for (int k = 0; k < i; k++) {
      if (t.charAt(k) == '\n') {
        line++;
      }
    }
    return "line " + line;
  }
}
