package io.kvd.ctl.util;

import java.util.ArrayList;
import java.util.List;

/**
 * A text table for terminals: a header row and left-aligned columns two spaces apart, or, in
 * plain form, tab-separated rows without the header for scripts ({@code cut -f}, {@code awk}).
 */
public final class Table {
  private final List<String> header;
  private final List<List<String>> rows = new ArrayList<>();

  public Table(String... header) {
    this.header = List.of(header);
  }

  public Table row(Object... cells) {
    if (cells.length != header.size()) {
      throw new IllegalArgumentException(cells.length + " cells for " + header.size()
          + " columns");
    }
    List<String> row = new ArrayList<>();
    for (Object cell : cells) {
      row.add(cell == null ? "-" : cell.toString());
    }
    rows.add(row);
    return this;
  }

  public int size() {
    return rows.size();
  }

  /** Aligned, with the header. */
  public String render() {
    int[] width = new int[header.size()];
    for (int c = 0; c < width.length; c++) {
      width[c] = header.get(c).length();
      for (List<String> row : rows) {
        width[c] = Math.max(width[c], row.get(c).length());
      }
    }
    StringBuilder text = new StringBuilder();
    line(text, header, width);
    for (List<String> row : rows) {
      line(text, row, width);
    }
    return text.toString();
  }

  /** Tab-separated rows without the header. */
  public String plain() {
    StringBuilder text = new StringBuilder();
    for (List<String> row : rows) {
      text.append(String.join("\t", row)).append('\n');
    }
    return text.toString();
  }

  private static void line(StringBuilder text, List<String> cells, int[] width) {
    StringBuilder line = new StringBuilder();
    for (int c = 0; c < cells.size(); c++) {
      if (c > 0) {
        line.append("  ");
      }
      line.append(cells.get(c));
      if (c < cells.size() - 1) {
        line.append(" ".repeat(width[c] - cells.get(c).length()));
      }
    }
    text.append(line.toString().stripTrailing()).append('\n');
  }
}
