package io.tiercache.jmh.report;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.geom.AffineTransform;
import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A grouped bar chart whose every bar carries its 95% interval as a whisker, drawn with Java 2D.
 * Intervals of ratios and times are asymmetric (they are symmetric on the log scale), which a
 * charting library's ± error bars cannot show; a whisker that leaves the plot is clipped and ends
 * in an arrow, so one noisy row does not flatten the others.
 */
final class BarChart {
  static final int WIDTH = 760;
  static final int HEIGHT = 430;
  private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x2ca02c),
      new Color(0xd62728), new Color(0x9467bd), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};

  final String title;
  private final String yTitle;
  private final boolean log;
  private final List<String> categories;
  private final Map<String, List<Estimate>> series = new LinkedHashMap<>();

  BarChart(String title, String yTitle, boolean log, List<String> categories) {
    this.title = title;
    this.yTitle = yTitle;
    this.log = log;
    this.categories = categories;
  }

  /** One series: an estimate per category, null where it was not measured. */
  BarChart series(String name, List<Estimate> values) {
    if (values.stream().anyMatch(v -> v != null && v.value() > 0)) {
      series.put(name, values);
    }
    return this;
  }

  boolean isEmpty() {
    return series.isEmpty() || categories.isEmpty();
  }

  BufferedImage render() {
    BufferedImage image = new BufferedImage(WIDTH, HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
    g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
    g.setColor(Color.WHITE);
    g.fillRect(0, 0, WIDTH, HEIGHT);
    g.setColor(Color.BLACK);
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 14));
    FontMetrics fm = g.getFontMetrics();
    g.drawString(title, (WIDTH - fm.stringWidth(title)) / 2, 22);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    fm = g.getFontMetrics();

    boolean rotate = categories.stream().mapToInt(String::length).sum() * 7 > WIDTH - 120;
    int legendRows = (series.size() + 5) / 6;
    int left = 84;
    int right = WIDTH - 16;
    int top = 36;
    int bottom = HEIGHT - 30 - legendRows * 18 - (rotate ? 70 : 18);

    // The axis range follows the bars; whiskers beyond it are clipped.
    double max = 0;
    double min = Double.MAX_VALUE;
    for (List<Estimate> values : series.values()) {
      for (Estimate e : values) {
        if (e != null && e.value() > 0) {
          max = Math.max(max, e.value());
          min = Math.min(min, e.value());
        }
      }
    }
    double lo = log ? Math.pow(10, Math.floor(Math.log10(min)) - 1) : 0;
    double hi = log ? Math.pow(10, Math.ceil(Math.log10(max * 1.5))) : niceCeiling(max * 1.6);
    Axis y = new Axis(lo, hi, log, bottom, top);

    // Grid and ticks.
    g.setStroke(new BasicStroke(1));
    for (double tick : y.ticks()) {
      int py = y.pixel(tick);
      g.setColor(new Color(0xe4e4e4));
      g.drawLine(left, py, right, py);
      g.setColor(Color.DARK_GRAY);
      String label = Report.num(tick);
      g.drawString(label, left - 6 - fm.stringWidth(label), py + 4);
    }
    g.setColor(Color.BLACK);
    g.drawLine(left, top, left, bottom);
    g.drawLine(left, bottom, right, bottom);
    AffineTransform saved = g.getTransform();
    g.rotate(-Math.PI / 2);
    g.drawString(yTitle, -(top + bottom) / 2 - fm.stringWidth(yTitle) / 2, 13);
    g.setTransform(saved);

    // Bars and whiskers.
    int groups = categories.size();
    double groupWidth = (right - left) / (double) groups;
    double barWidth = groupWidth * 0.8 / Math.max(1, series.size());
    int s = 0;
    for (Map.Entry<String, List<Estimate>> entry : series.entrySet()) {
      Color color = COLORS[s % COLORS.length];
      for (int c = 0; c < groups && c < entry.getValue().size(); c++) {
        Estimate e = entry.getValue().get(c);
        if (e == null || !(e.value() > 0)) {
          continue;
        }
        int x = (int) Math.round(left + c * groupWidth + groupWidth * 0.1 + s * barWidth);
        int w = Math.max(1, (int) Math.round(barWidth) - 2);
        int py = y.pixel(e.value());
        g.setColor(color);
        g.fillRect(x, py, w, bottom - py);
        Ratio r = Ratio.of(e, 1.0);
        if (r.hasInterval()) {
          whisker(g, x + w / 2, y, r.low(), r.high(), top, bottom);
        }
      }
      s++;
    }

    // Category labels.
    g.setColor(Color.BLACK);
    for (int c = 0; c < groups; c++) {
      String label = categories.get(c);
      int cx = (int) Math.round(left + (c + 0.5) * groupWidth);
      if (rotate) {
        AffineTransform t = g.getTransform();
        g.translate(cx, bottom + 12);
        g.rotate(-Math.PI / 5);
        g.drawString(label, -fm.stringWidth(label), 0);
        g.setTransform(t);
      } else {
        g.drawString(label, cx - fm.stringWidth(label) / 2, bottom + 15);
      }
    }

    // Legend, and what the whiskers are.
    int ly = HEIGHT - 14 - (legendRows - 1) * 18;
    int lx = left;
    s = 0;
    for (String name : series.keySet()) {
      if (s > 0 && s % 6 == 0) {
        ly += 18;
        lx = left;
      }
      g.setColor(COLORS[s % COLORS.length]);
      g.fillRect(lx, ly - 9, 10, 10);
      g.setColor(Color.BLACK);
      g.drawString(name, lx + 14, ly);
      lx += 24 + fm.stringWidth(name);
      s++;
    }
    String note = "whiskers: 95% interval";
    g.setColor(Color.DARK_GRAY);
    g.drawString(note, right - fm.stringWidth(note), HEIGHT - 14 - (legendRows - 1) * 18);
    g.dispose();
    return image;
  }

  private static void whisker(Graphics2D g, int x, Axis y, double low, double high, int top, int bottom) {
    g.setColor(Color.BLACK);
    g.setStroke(new BasicStroke(1.3f));
    int pHigh = Math.max(top, y.pixel(high));
    int pLow = Math.min(bottom, low <= 0 ? bottom : y.pixel(low));
    g.drawLine(x, pLow, x, pHigh);
    if (pHigh == top && y.pixel(high) < top) {
      g.drawLine(x - 4, top + 6, x, top);
      g.drawLine(x + 4, top + 6, x, top);
    } else {
      g.drawLine(x - 4, pHigh, x + 4, pHigh);
    }
    if (pLow < bottom) {
      g.drawLine(x - 4, pLow, x + 4, pLow);
    }
  }

  private static double niceCeiling(double v) {
    if (!(v > 0)) {
      return 1;
    }
    double unit = Math.pow(10, Math.floor(Math.log10(v)));
    for (double step : new double[] {1, 2, 2.5, 5, 10}) {
      if (step * unit >= v) {
        return step * unit;
      }
    }
    return 10 * unit;
  }

  /** Maps values to pixels, linearly or by decades. */
  private record Axis(double lo, double hi, boolean log, int bottom, int top) {
    int pixel(double v) {
      double f = log ? (Math.log10(Math.max(v, lo * 1e-3)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))
          : (v - lo) / (hi - lo);
      double p = bottom - f * (bottom - top);
      return (int) Math.round(Math.max(-10_000, Math.min(10_000, p)));
    }

    List<Double> ticks() {
      List<Double> ticks = new ArrayList<>();
      if (log) {
        for (double t = lo; t <= hi * 1.0001; t *= 10) {
          ticks.add(t);
        }
      } else {
        double step = niceCeiling(hi / 5);
        for (double t = 0; t <= hi * 1.0001; t += step) {
          ticks.add(t);
        }
      }
      return ticks;
    }
  }

  @Override
  public String toString() {
    return String.format(Locale.ROOT, "%s (%d series)", title, series.size());
  }
}
