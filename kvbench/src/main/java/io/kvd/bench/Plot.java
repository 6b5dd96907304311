package io.kvd.bench;

import io.kvd.bench.Workload.Op;
import java.awt.Graphics2D;
import java.awt.geom.Rectangle2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.HistogramIterationValue;
import org.jfree.chart.ChartFactory;
import org.jfree.chart.JFreeChart;
import org.jfree.chart.axis.LogAxis;
import org.jfree.chart.axis.NumberAxis;
import org.jfree.chart.plot.PlotOrientation;
import org.jfree.chart.plot.ValueMarker;
import org.jfree.chart.plot.XYPlot;
import org.jfree.chart.renderer.xy.XYLineAndShapeRenderer;
import org.jfree.data.xy.XYSeries;
import org.jfree.data.xy.XYSeriesCollection;

/**
 * Draws a run with JFreeChart into one PNG: the timeline (operations per second and p99 per
 * second, with the fault script's marks) above the latency percentile curve of each operation
 * (HdrHistogram's iteration, x on the "1 / (1 - percentile)" log scale of its plots).
 */
final class Plot {
  private static final int WIDTH = 1_200;
  private static final int HEIGHT_EACH = 450;

  private Plot() {}

  static void write(Path file, Timeline timeline, List<Timeline.Mark> marks, Results results)
      throws IOException {
    System.setProperty("java.awt.headless", "true");
    BufferedImage image = new BufferedImage(WIDTH, 2 * HEIGHT_EACH, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    try {
      timelineChart(timeline, marks).draw(g, new Rectangle2D.Double(0, 0, WIDTH, HEIGHT_EACH));
      percentileChart(results).draw(g, new Rectangle2D.Double(0, HEIGHT_EACH, WIDTH,
          HEIGHT_EACH));
    } finally {
      g.dispose();
    }
    ImageIO.write(image, "png", file.toFile());
  }

  private static JFreeChart timelineChart(Timeline timeline, List<Timeline.Mark> marks) {
    XYSeries ops = new XYSeries("operations/s");
    XYSeries p99 = new XYSeries("p99 (ms)");
    List<Timeline.Second> seconds = timeline.seconds();
    for (int i = 0; i < seconds.size(); i++) {
      ops.add(i + 1, seconds.get(i).answered());
      p99.add(i + 1, seconds.get(i).latencyUsP99() / 1000.0);
    }
    JFreeChart chart = ChartFactory.createXYLineChart("Timeline", "second", "operations/s",
        new XYSeriesCollection(ops), PlotOrientation.VERTICAL, true, false, false);
    XYPlot plot = chart.getXYPlot();
    NumberAxis latencyAxis = new NumberAxis("p99 (ms)");
    plot.setRangeAxis(1, latencyAxis);
    plot.setDataset(1, new XYSeriesCollection(p99));
    plot.mapDatasetToRangeAxis(1, 1);
    plot.setRenderer(1, new XYLineAndShapeRenderer(true, false));
    for (Timeline.Mark mark : marks) {
      ValueMarker marker = new ValueMarker(mark.atSec());
      marker.setLabel(mark.text().length() > 40 ? mark.text().substring(0, 40) : mark.text());
      plot.addDomainMarker(marker);
    }
    return chart;
  }

  private static JFreeChart percentileChart(Results results) {
    XYSeriesCollection curves = new XYSeriesCollection();
    for (Op op : Op.values()) {
      Histogram h = results.latencyUs(op);
      if (h.getTotalCount() == 0) {
        continue;
      }
      XYSeries curve = new XYSeries(op.name());
      for (HistogramIterationValue v : h.percentiles(5)) {
        double p = v.getPercentileLevelIteratedTo() / 100.0;
        if (p >= 1.0) {
          break;
        }
        curve.add(1 / (1 - p), v.getValueIteratedTo() / 1000.0);
      }
      curves.addSeries(curve);
    }
    JFreeChart chart = ChartFactory.createXYLineChart("Latency by percentile",
        "percentile (1 / (1 - p): 10 = p90, 100 = p99, 1000 = p99.9)", "latency (ms)", curves,
        PlotOrientation.VERTICAL, true, false, false);
    LogAxis x = new LogAxis("percentile (1 / (1 - p): 10 = p90, 100 = p99, 1000 = p99.9)");
    x.setBase(10);
    chart.getXYPlot().setDomainAxis(x);
    return chart;
  }
}
