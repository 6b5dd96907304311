package io.kvd.dist;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Evaluates the small subset of Terraform's expression language that the module's validation
 * conditions and preconditions use, so that a test can check them against sample values the way
 * terraform would: literals (numbers, strings without interpolation, true, false, null),
 * var.NAME, the operators ! - * / % + - &lt; &lt;= &gt; &gt;= == != &amp;&amp; || ?:,
 * parentheses, indexing, and the functions can, cidrhost, floor, length, pow, regex, split,
 * startswith and tonumber.
 *
 * <p>An error terraform would raise while evaluating (a regex without a match, a bad CIDR) is an
 * {@link EvalException}, which can() turns into false. Syntax outside the subset is an
 * {@link UnsupportedOperationException}, which nothing catches: a test never passes on an
 * expression it could not evaluate.
 */
final class HclExpression {
  /** An error of the evaluation itself, as terraform reports it (can() gives false). */
  static final class EvalException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    EvalException(String message) {
      super(message);
    }
  }

  private final String src;
  private final Map<String, Object> vars;
  private int pos;

  private HclExpression(String src, Map<String, Object> vars) {
    this.src = src;
    this.vars = vars;
  }

  /**
   * Evaluates an expression (its source, with or without the parser's "${" "}" wrapping) with the
   * given variables (var.NAME). Numbers are BigDecimal, lists List.
   */
  static Object eval(String expression, Map<String, Object> vars) {
    String text = expression.trim();
    if (text.startsWith("${") && text.endsWith("}")) {
      text = text.substring(2, text.length() - 1);
    }
    HclExpression parser = new HclExpression(text, vars);
    Node node = parser.parseConditional();
    parser.skipSpace();
    if (parser.pos != parser.src.length()) {
      throw parser.unsupported("unexpected text");
    }
    return node.eval();
  }

  static boolean isTrue(String expression, Map<String, Object> vars) {
    Object value = eval(expression, vars);
    if (!(value instanceof Boolean)) {
      throw new EvalException("not a bool: " + value);
    }
    return (Boolean) value;
  }

  // ---- the parser: builds closures so that can() can evaluate its argument itself ----

  private interface Node {
    Object eval();
  }

  private Node parseConditional() {
    Node cond = parseOr();
    skipSpace();
    if (peek('?')) {
      pos++;
      Node then = parseConditional();
      expect(':');
      Node otherwise = parseConditional();
      return () -> bool(cond.eval()) ? then.eval() : otherwise.eval();
    }
    return cond;
  }

  private Node parseOr() {
    Node left = parseAnd();
    while (take("||")) {
      Node l = left;
      Node r = parseAnd();
      left = () -> bool(l.eval()) | bool(r.eval()); // terraform evaluates both sides
    }
    return left;
  }

  private Node parseAnd() {
    Node left = parseEquality();
    while (take("&&")) {
      Node l = left;
      Node r = parseEquality();
      left = () -> bool(l.eval()) & bool(r.eval());
    }
    return left;
  }

  private Node parseEquality() {
    Node left = parseComparison();
    while (true) {
      if (take("==")) {
        Node l = left;
        Node r = parseComparison();
        left = () -> equal(l.eval(), r.eval());
      } else if (take("!=")) {
        Node l = left;
        Node r = parseComparison();
        left = () -> !equal(l.eval(), r.eval());
      } else {
        return left;
      }
    }
  }

  private Node parseComparison() {
    Node left = parseAdditive();
    while (true) {
      String op = take("<=") ? "<=" : take(">=") ? ">=" : take("<") ? "<" : take(">") ? ">" : null;
      if (op == null) {
        return left;
      }
      Node l = left;
      Node r = parseAdditive();
      left = () -> {
        int c = num(l.eval()).compareTo(num(r.eval()));
        return switch (op) {
          case "<=" -> c <= 0;
          case ">=" -> c >= 0;
          case "<" -> c < 0;
          default -> c > 0;
        };
      };
    }
  }

  private Node parseAdditive() {
    Node left = parseMultiplicative();
    while (true) {
      skipSpace();
      if (peek('+') || peek('-')) {
        char op = src.charAt(pos++);
        Node l = left;
        Node r = parseMultiplicative();
        left = () -> op == '+' ? num(l.eval()).add(num(r.eval()))
            : num(l.eval()).subtract(num(r.eval()));
      } else {
        return left;
      }
    }
  }

  private Node parseMultiplicative() {
    Node left = parseUnary();
    while (true) {
      skipSpace();
      if (peek('*') || peek('/') || peek('%')) {
        char op = src.charAt(pos++);
        Node l = left;
        Node r = parseUnary();
        left = () -> {
          BigDecimal a = num(l.eval());
          BigDecimal b = num(r.eval());
          if (op == '*') {
            return a.multiply(b);
          }
          if (b.signum() == 0) {
            throw new EvalException("division by zero");
          }
          return op == '/' ? a.divide(b, 20, RoundingMode.HALF_EVEN).stripTrailingZeros()
              : a.remainder(b);
        };
      } else {
        return left;
      }
    }
  }

  private Node parseUnary() {
    skipSpace();
    if (peek('!')) {
      pos++;
      Node operand = parseUnary();
      return () -> !bool(operand.eval());
    }
    if (peek('-')) {
      pos++;
      Node operand = parseUnary();
      return () -> num(operand.eval()).negate();
    }
    return parsePostfix();
  }

  private Node parsePostfix() {
    Node node = parsePrimary();
    while (true) {
      skipSpace();
      if (!peek('[')) {
        return node;
      }
      pos++;
      Node base = node;
      Node index = parseConditional();
      expect(']');
      node = () -> {
        Object list = base.eval();
        if (!(list instanceof List<?> items)) {
          throw new EvalException("cannot index " + list);
        }
        int i = num(index.eval()).intValueExact();
        if (i < 0 || i >= items.size()) {
          throw new EvalException("index " + i + " out of range of " + items);
        }
        return items.get(i);
      };
    }
  }

  private Node parsePrimary() {
    skipSpace();
    if (pos >= src.length()) {
      throw unsupported("unexpected end");
    }
    char c = src.charAt(pos);
    if (c == '(') {
      pos++;
      Node inner = parseConditional();
      expect(')');
      return inner;
    }
    if (c == '"') {
      String s = parseString();
      return () -> s;
    }
    if (Character.isDigit(c)) {
      int start = pos;
      while (pos < src.length() && (Character.isDigit(src.charAt(pos)) || src.charAt(pos) == '.')) {
        pos++;
      }
      BigDecimal n = new BigDecimal(src.substring(start, pos));
      return () -> n;
    }
    if (Character.isLetter(c) || c == '_') {
      String name = identifier();
      switch (name) {
        case "true":
          return () -> Boolean.TRUE;
        case "false":
          return () -> Boolean.FALSE;
        case "null":
          return () -> null;
        case "var": {
          expect('.');
          String variable = identifier();
          if (!vars.containsKey(variable)) {
            throw unsupported("var." + variable + " has no value in the test");
          }
          Object value = vars.get(variable);
          return () -> value;
        }
        default:
          skipSpace();
          if (!peek('(')) {
            throw unsupported("reference " + name);
          }
          pos++;
          List<Node> args = new ArrayList<>();
          skipSpace();
          if (!peek(')')) {
            do {
              args.add(parseConditional());
              skipSpace();
            } while (take(","));
          }
          expect(')');
          return function(name, args);
      }
    }
    throw unsupported("unexpected '" + c + "'");
  }

  private Node function(String name, List<Node> args) {
    return switch (name) {
      case "can" -> {
        arity(name, args, 1);
        yield () -> {
          try {
            args.get(0).eval();
            return true;
          } catch (EvalException e) {
            return false;
          }
        };
      }
      case "floor" -> {
        arity(name, args, 1);
        yield () -> num(args.get(0).eval()).setScale(0, RoundingMode.FLOOR);
      }
      case "pow" -> {
        arity(name, args, 2);
        yield () -> num(args.get(0).eval()).pow(num(args.get(1).eval()).intValueExact());
      }
      case "tonumber" -> {
        arity(name, args, 1);
        yield () -> {
          Object v = args.get(0).eval();
          try {
            return v instanceof BigDecimal ? v : new BigDecimal(str(v));
          } catch (NumberFormatException e) {
            throw new EvalException("tonumber: not a number: " + v);
          }
        };
      }
      case "length" -> {
        arity(name, args, 1);
        yield () -> {
          Object v = args.get(0).eval();
          return BigDecimal.valueOf(v instanceof List<?> l ? l.size()
              : str(v).codePointCount(0, str(v).length()));
        };
      }
      case "startswith" -> {
        arity(name, args, 2);
        yield () -> str(args.get(0).eval()).startsWith(str(args.get(1).eval()));
      }
      case "split" -> {
        arity(name, args, 2);
        yield () -> List.of(str(args.get(1).eval()).split(Pattern.quote(str(args.get(0).eval())),
            -1));
      }
      case "regex" -> {
        arity(name, args, 2);
        yield () -> {
          String pattern = str(args.get(0).eval());
          String input = str(args.get(1).eval());
          Matcher m;
          try {
            m = Pattern.compile(pattern).matcher(input);
          } catch (PatternSyntaxException e) {
            throw new EvalException("regex: bad pattern " + pattern);
          }
          if (!m.find()) {
            throw new EvalException("regex: no match for " + pattern + " in " + input);
          }
          if (m.groupCount() == 0) {
            return m.group();
          }
          List<String> groups = new ArrayList<>(); // unnamed groups: a list, as terraform gives
          for (int g = 1; g <= m.groupCount(); g++) {
            groups.add(m.group(g));
          }
          return groups;
        };
      }
      case "cidrhost" -> {
        arity(name, args, 2);
        yield () -> Cidr.host(str(args.get(0).eval()), num(args.get(1).eval()).longValueExact());
      }
      default -> throw unsupported("function " + name + "()");
    };
  }

  private static void arity(String name, List<Node> args, int n) {
    if (args.size() != n) {
      throw new UnsupportedOperationException(name + "() takes " + n + " arguments");
    }
  }

  /** A quoted string literal with HCL's escapes; an interpolation in it is outside the subset. */
  private String parseString() {
    StringBuilder out = new StringBuilder();
    pos++; // opening quote
    while (true) {
      if (pos >= src.length()) {
        throw unsupported("unterminated string");
      }
      char c = src.charAt(pos++);
      if (c == '"') {
        return out.toString();
      }
      if (c == '\\') {
        char e = src.charAt(pos++);
        switch (e) {
          case 'n' -> out.append('\n');
          case 't' -> out.append('\t');
          case 'r' -> out.append('\r');
          case '"' -> out.append('"');
          case '\\' -> out.append('\\');
          default -> throw unsupported("escape \\" + e);
        }
      } else if (c == '$' || c == '%') {
        if (src.startsWith("" + c + c + "{", pos - 1)) {
          out.append(c).append('{'); // $${ and %%{: the escaped sequence, literally ${ or %{
          pos += 2;
        } else if (peek('{')) {
          throw unsupported("template sequence in a string");
        } else {
          out.append(c);
        }
      } else {
        out.append(c);
      }
    }
  }

  private String identifier() {
    int start = pos;
    while (pos < src.length()
        && (Character.isLetterOrDigit(src.charAt(pos)) || src.charAt(pos) == '_')) {
      pos++;
    }
    return src.substring(start, pos);
  }

  private void skipSpace() {
    while (pos < src.length() && Character.isWhitespace(src.charAt(pos))) {
      pos++;
    }
  }

  private boolean peek(char c) {
    return pos < src.length() && src.charAt(pos) == c;
  }

  private boolean take(String token) {
    skipSpace();
    if (src.startsWith(token, pos)) {
      pos += token.length();
      return true;
    }
    return false;
  }

  private void expect(char c) {
    skipSpace();
    if (!peek(c)) {
      throw unsupported("expected '" + c + "'");
    }
    pos++;
  }

  private UnsupportedOperationException unsupported(String what) {
    return new UnsupportedOperationException(what + " at " + pos + " in: " + src);
  }

  private static boolean bool(Object v) {
    if (!(v instanceof Boolean b)) {
      throw new EvalException("not a bool: " + v);
    }
    return b;
  }

  private static BigDecimal num(Object v) {
    if (v instanceof BigDecimal n) {
      return n;
    }
    if (v instanceof Number n) {
      return new BigDecimal(n.toString());
    }
    throw new EvalException("not a number: " + v);
  }

  private static String str(Object v) {
    if (v instanceof String s) {
      return s;
    }
    if (v instanceof BigDecimal n) {
      return n.stripTrailingZeros().toPlainString();
    }
    throw new EvalException("not a string: " + v);
  }

  private static boolean equal(Object a, Object b) {
    if (a instanceof Number && b instanceof Number) {
      return num(a).compareTo(num(b)) == 0;
    }
    return a == null ? b == null : a.equals(b);
  }
}
