import Foundation

/// Draws loss curves of one or more runs as a self-contained SVG figure.
///
/// Two panels share the loss axis: loss against optimizer steps, and loss against training
/// time (seconds, minutes or hours, whichever reads best). Each run has one colour; its
/// training loss is drawn smoothed (an exponential moving average, bias-corrected like
/// TensorBoard's) over the faint per-step values, its validation loss as markers joined by a
/// dashed line. A legend names each run and says how the lines were made.
///
/// ```swift
/// let runs = try paths.map { try RunLog.read(contentsOf: $0) }
/// try LossPlot.svg(runs).write(toFile: "curves.svg", atomically: true, encoding: .utf8)
/// ```
public enum LossPlot {
  /// How the figure is drawn.
  public struct Options: Sendable, Equatable {
    /// EMA weight for the training loss, in [0, 1): 0 draws the raw values only, 0.9 averages
    /// over about the last 10 steps.
    public var smoothing = 0.9
    /// Also draw the raw per-step training loss, faintly, under the smoothed line.
    public var showRaw = true
    /// Figure title.
    public var title = "Training and validation loss"
    /// Figure width in pixels (the height follows from the legend).
    public var width = 1100.0

    /// The defaults: EMA 0.9 with faint raw values, 1100 px wide.
    public init(smoothing: Double = 0.9, showRaw: Bool = true, title: String = "Training and validation loss", width: Double = 1100) {
      self.smoothing = smoothing
      self.showRaw = showRaw
      self.title = title
      self.width = width
    }
  }

  /// Colours for runs, in order (Tableau 10, readable on white and by most colour-blind readers).
  public static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7", "#9c755f", "#bab0ac"]

  /// The bias-corrected exponential moving average of `values` with weight `w` in [0, 1).
  public static func smoothed(_ values: [Double], weight w: Double) -> [Double] {
    guard w > 0 else { return values }
    var ema = 0.0
    var correction = 1.0
    return values.map { x in
      ema = w * ema + (1 - w) * x
      correction *= w
      return ema / (1 - correction)
    }
  }

  /// About `count` round tick values (1, 2, 2.5 or 5 × 10ⁿ apart) covering `lo...hi`.
  /// - Returns: the ticks, the first ≤ lo and the last ≥ hi.
  ///   Non-finite bounds, or a range too wide or too narrow for round steps, give `[lo, hi]`
  ///   (made finite and increasing) instead.
  public static func niceTicks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
    var lo = lo.isFinite ? lo : 0
    var hi = hi.isFinite ? hi : lo + 1
    if hi < lo { swap(&lo, &hi) }
    if !(hi > lo) {
      let pad = lo == 0 ? 1 : abs(lo) * 0.1
      lo -= pad
      hi += pad
    }
    if !(lo.isFinite && hi.isFinite && hi > lo) {
      return [lo.isFinite ? lo : -Double.greatestFiniteMagnitude, hi.isFinite ? hi : Double.greatestFiniteMagnitude]
    }
    let raw = (hi - lo) / Double(min(max(1, count), 100))
    let magnitude = pow(10, floor(log10(raw)))
    let step = [1, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw * 0.999 } ?? 10 * magnitude
    // Round steps need a step that is normal and finite, and bounds it can reach.
    guard step.isNormal, step.isFinite, (lo / step).isFinite, (hi / step).isFinite, abs(lo / step) < 1e15 else { return [lo, hi] }
    let first = floor(lo / step + 1e-9) * step
    guard first.isFinite else { return [lo, hi] }
    var ticks: [Double] = []
    var k = 0
    while true {
      let t = first + Double(k) * step
      if !t.isFinite {  // the next round value is past the largest double: end at hi
        ticks.append(hi)
        break
      }
      ticks.append(abs(t) < step * 1e-9 ? 0 : t)
      if t >= hi - step * 1e-9 || k > 100 { break }
      k += 1
    }
    return ticks
  }

  /// Labels for tick values: as many decimals as their spacing needs, `k` for thousands.
  public static func tickLabels(_ ticks: [Double]) -> [String] {
    guard ticks.count > 1 else { return ticks.map { abs($0) < 1e15 ? trimmed($0, decimals: 2) : String(format: "%.4g", $0) } }
    let step = ticks[1] - ticks[0]
    // Labels must stay short and never trap: huge or tiny values are printed as %g.
    guard step > 0, step.isFinite, ticks.allSatisfy({ $0.isFinite && abs($0) < 1e15 }), step >= 1e-12 else {
      return ticks.map { String(format: "%.4g", $0) }
    }
    if ticks.last! >= 10_000, step >= 1000, ticks.allSatisfy({ $0.truncatingRemainder(dividingBy: 1000) == 0 }) {
      return ticks.map { $0 == 0 ? "0" : String(format: "%.0fk", $0 / 1000) }
    }
    var decimals = max(0, Int(-floor(log10(step) + 1e-9)))
    if (step * pow(10, Double(decimals))).truncatingRemainder(dividingBy: 1) > 1e-6 { decimals += 1 }
    return ticks.map { String(format: "%.\(decimals)f", $0) }
  }

  private static func trimmed(_ x: Double, decimals: Int) -> String {
    var s = String(format: "%.\(decimals)f", x)
    while s.contains("."), s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
  }

  /// The figure as SVG text.
  public static func svg(_ runs: [RunLog], options: Options = Options()) -> String {
    let names = legendNames(runs)
    // Any width is drawn: a non-finite or absurd one falls back to the nearest sensible one.
    let w = options.width.isFinite ? min(max(options.width, 400), 100_000) : 1100
    let panelGap = 70.0
    let left = 72.0, right = 24.0, top = 78.0, plotH = 300.0
    let panelW = (w - left - right - panelGap) / 2
    let xTitleY = top + plotH + 44

    // Series per run.
    struct Series {
      var steps: [Double] = [], times: [Double] = [], raw: [Double] = [], smooth: [Double] = []
      var vSteps: [Double] = [], vTimes: [Double] = [], vLoss: [Double] = []
    }
    let series: [Series] = runs.map { run in
      var s = Series()
      // Only finite points are drawn (a log built in memory may hold anything).
      for p in run.steps where p.loss.isFinite && p.elapsedSeconds.isFinite {
        s.steps.append(Double(p.step))
        s.times.append(p.elapsedSeconds)
        s.raw.append(p.loss)
      }
      s.smooth = smoothed(s.raw, weight: min(max(options.smoothing, 0), 0.999))
      for v in run.validations where v.loss.isFinite && v.elapsedSeconds.isFinite {
        s.vSteps.append(Double(v.step))
        s.vTimes.append(v.elapsedSeconds)
        s.vLoss.append(v.loss)
      }
      return s
    }

    // Axes ranges: the loss axis covers the smoothed training and the validation losses (raw
    // spikes beyond it are clipped); both x axes start at 0.
    let shown = series.flatMap { $0.smooth + $0.vLoss }
    let yTicks = niceTicks(shown.min() ?? 0, shown.max() ?? 1, count: 6)
    let maxStep = series.flatMap { $0.steps + $0.vSteps }.max() ?? 1
    let stepTicks = niceTicks(0, max(1, maxStep), count: 6)
    let maxTime = series.flatMap { $0.times + $0.vTimes }.max() ?? 1
    let (unit, unitName) = maxTime > 3 * 3600 ? (3600.0, "h") : maxTime > 180 ? (60.0, "min") : (1.0, "s")
    let timeTicks = niceTicks(0, max(maxTime / unit, 1e-3), count: 6)

    // Legend layout: a key line, then runs in as many columns as fit.
    let legendTop = xTitleY + 30
    let entryW = min(w - left - right, max(180, Double(names.map { $0.count }.max() ?? 10) * 7.5 + 44))
    let columns = max(1, Int((w - left - right) / entryW))
    let rows = (names.count + columns - 1) / columns
    let height = legendTop + 26 + Double(rows) * 22 + 14

    var out = """
      <svg xmlns="http://www.w3.org/2000/svg" width="\(f(w))" height="\(f(height))" viewBox="0 0 \(f(w)) \(f(height))" \
      font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12" fill="#222">
      <rect width="100%" height="100%" fill="#ffffff"/>
      <text x="\(f(w / 2))" y="28" text-anchor="middle" font-size="17" font-weight="600">\(escape(options.title))</text>
      <text x="\(f(w / 2))" y="48" text-anchor="middle" font-size="12" fill="#555">\(escape(caption(options, runs: runs.count)))</text>

      """

    for panel in 0..<2 {
      let x0 = left + Double(panel) * (panelW + panelGap)
      let xTicks = panel == 0 ? stepTicks : timeTicks
      let xLo = xTicks.first!, xHi = xTicks.last!
      let yLo = yTicks.first!, yHi = yTicks.last!
      func px(_ x: Double) -> Double { x0 + (x - xLo) / (xHi - xLo) * panelW }
      func py(_ y: Double) -> Double { top + plotH - (y - yLo) / (yHi - yLo) * plotH }
      let clip = "clip\(panel)"
      out += "<g>\n<clipPath id=\"\(clip)\"><rect x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(panelW))\" height=\"\(f(plotH))\"/></clipPath>\n"
      out += "<rect x=\"\(f(x0))\" y=\"\(f(top))\" width=\"\(f(panelW))\" height=\"\(f(plotH))\" fill=\"#fafafa\" stroke=\"none\"/>\n"
      // Grid and tick labels.
      for (t, label) in zip(yTicks, tickLabels(yTicks)) {
        let y = py(t)
        out += "<line x1=\"\(f(x0))\" y1=\"\(f(y))\" x2=\"\(f(x0 + panelW))\" y2=\"\(f(y))\" stroke=\"#e3e3e3\"/>\n"
        out += "<text x=\"\(f(x0 - 7))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(label)</text>\n"
      }
      for (t, label) in zip(xTicks, tickLabels(xTicks)) {
        let x = px(t)
        out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\" stroke=\"#e3e3e3\"/>\n"
        out += "<line x1=\"\(f(x))\" y1=\"\(f(top + plotH))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH + 5))\" stroke=\"#444\"/>\n"
        out += "<text x=\"\(f(x))\" y=\"\(f(top + plotH + 19))\" text-anchor=\"middle\">\(label)</text>\n"
      }
      out += "<path d=\"M\(f(x0)),\(f(top))V\(f(top + plotH))H\(f(x0 + panelW))\" fill=\"none\" stroke=\"#444\"/>\n"
      // Axis titles.
      let xTitle = panel == 0 ? "optimizer step" : "training time (\(unitName))"
      out += "<text x=\"\(f(x0 + panelW / 2))\" y=\"\(f(xTitleY))\" text-anchor=\"middle\" font-size=\"13\">\(xTitle)</text>\n"
      let yMid = top + plotH / 2
      out += "<text x=\"\(f(x0 - 50))\" y=\"\(f(yMid))\" text-anchor=\"middle\" font-size=\"13\" transform=\"rotate(-90 \(f(x0 - 50)) \(f(yMid)))\">loss (nats/char)</text>\n"
      out += "<text x=\"\(f(x0))\" y=\"\(f(top - 8))\" font-size=\"13\" font-weight=\"600\">\(panel == 0 ? "Loss vs steps" : "Loss vs training time")</text>\n"

      // Curves.
      out += "<g clip-path=\"url(#\(clip))\" fill=\"none\" stroke-linejoin=\"round\" stroke-linecap=\"round\">\n"
      for (i, s) in series.enumerated() {
        let color = palette[i % palette.count]
        let xs = panel == 0 ? s.steps : s.times.map { $0 / unit }
        let vxs = panel == 0 ? s.vSteps : s.vTimes.map { $0 / unit }
        if options.showRaw && options.smoothing > 0 {
          out += polyline(envelope(xs.map(px), s.raw.map(py)), color: color, width: 1, extra: " stroke-opacity=\"0.2\"")
        }
        out += polyline(thin(xs.map(px), s.smooth.map(py)), color: color, width: 2, extra: "")
        if !vxs.isEmpty {
          let pts = zip(vxs.map(px), s.vLoss.map(py)).map { ($0, $1) }
          out += polyline(pts, color: color, width: 1.4, extra: " stroke-dasharray=\"5 3\"")
          let r = pts.count > 60 ? 2.2 : 3.6
          for (x, y) in pts {
            out += "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(r))\" fill=\"\(color)\" stroke=\"#fff\" stroke-width=\"1\"/>\n"
          }
        }
      }
      out += "</g>\n</g>\n"
    }

    // Legend: what the line styles mean, then one entry per run.
    let keyY = legendTop + 6
    var kx = left
    let smoothingLabel = options.smoothing > 0 ? "training loss (EMA \(trimmed(options.smoothing, decimals: 3)) of per-step loss)" : "training loss (per step)"
    out += "<g font-size=\"12\" fill=\"#333\">\n"
    out += "<line x1=\"\(f(kx))\" y1=\"\(f(keyY))\" x2=\"\(f(kx + 26))\" y2=\"\(f(keyY))\" stroke=\"#555\" stroke-width=\"2\"/>\n"
    out += "<text x=\"\(f(kx + 32))\" y=\"\(f(keyY + 4))\">\(smoothingLabel)</text>\n"
    kx += 44 + Double(smoothingLabel.count) * 6.6
    out += "<line x1=\"\(f(kx))\" y1=\"\(f(keyY))\" x2=\"\(f(kx + 26))\" y2=\"\(f(keyY))\" stroke=\"#555\" stroke-width=\"1.4\" stroke-dasharray=\"5 3\"/>\n"
    out += "<circle cx=\"\(f(kx + 13))\" cy=\"\(f(keyY))\" r=\"3.6\" fill=\"#555\" stroke=\"#fff\"/>\n"
    out += "<text x=\"\(f(kx + 32))\" y=\"\(f(keyY + 4))\">validation loss</text>\n"
    for (i, name) in names.enumerated() {
      let col = i % columns, row = i / columns
      let x = left + Double(col) * entryW
      let y = keyY + 26 + Double(row) * 22
      let color = palette[i % palette.count]
      out += "<rect x=\"\(f(x))\" y=\"\(f(y - 6))\" width=\"26\" height=\"12\" rx=\"2\" fill=\"\(color)\"/>\n"
      out += "<text x=\"\(f(x + 32))\" y=\"\(f(y + 4))\">\(escape(name))</text>\n"
    }
    out += "</g>\n</svg>\n"
    return out
  }

  /// Run names for the legend: the log names, with the folder added where two would clash.
  static func legendNames(_ runs: [RunLog]) -> [String] {
    var names = runs.map { $0.name }
    for i in names.indices where names.filter({ $0 == runs[i].name }).count > 1 || names[..<i].contains(names[i]) {
      let parts = runs[i].path.split(separator: "/")
      if parts.count >= 2 { names[i] = parts[parts.count - 2] + "/" + runs[i].name }
    }
    var seen: [String: Int] = [:]
    for i in names.indices {
      seen[names[i], default: 0] += 1
      if seen[names[i]]! > 1 { names[i] += " (\(seen[names[i]]!))" }
    }
    return names
  }

  private static func caption(_ options: Options, runs: Int) -> String {
    let training = options.smoothing > 0
      ? "training loss smoothed by an exponential moving average (weight \(trimmed(options.smoothing, decimals: 3)))\(options.showRaw ? ", per-step values faint" : "")"
      : "training loss per step"
    return "\(runs) run\(runs == 1 ? "" : "s") · \(training) · validation loss as markers · lower is better"
  }

  /// Points thinned to about one per half pixel (the last of each), for long runs.
  private static func thin(_ xs: [Double], _ ys: [Double]) -> [(Double, Double)] {
    var out: [(Double, Double)] = []
    out.reserveCapacity(min(xs.count, 4000))
    for i in xs.indices {
      let key = (xs[i] * 2).rounded()
      if let last = out.last, (last.0 * 2).rounded() == key, i != xs.count - 1 {
        out[out.count - 1] = (xs[i], ys[i])
      } else {
        out.append((xs[i], ys[i]))
      }
    }
    return out
  }

  /// Per-pixel-column minimum and maximum, so thinning a noisy line keeps its envelope.
  private static func envelope(_ xs: [Double], _ ys: [Double]) -> [(Double, Double)] {
    guard xs.count > 2000 else { return zip(xs, ys).map { ($0, $1) } }
    var out: [(Double, Double)] = []
    var i = 0
    while i < xs.count {
      let column = xs[i].rounded()
      var lo = ys[i], hi = ys[i]
      var j = i
      while j < xs.count && xs[j].rounded() == column {
        lo = min(lo, ys[j])
        hi = max(hi, ys[j])
        j += 1
      }
      out.append((xs[i], lo))
      out.append((xs[j - 1], hi))
      i = j
    }
    return out
  }

  private static func polyline(_ points: [(Double, Double)], color: String, width: Double, extra: String) -> String {
    guard !points.isEmpty else { return "" }
    var s = "<polyline stroke=\"\(color)\" stroke-width=\"\(f(width))\"\(extra) points=\""
    for (k, p) in points.enumerated() {
      if k > 0 { s += " " }
      s += f(p.0) + "," + f(p.1)
    }
    return s + "\"/>\n"
  }

  /// A coordinate with at most two decimals.
  /// Off-figure points (a huge value on a log edited by hand) are clamped far outside the view,
  /// where the clip path hides them.
  private static func f(_ x: Double) -> String {
    guard x.isFinite else { return "0" }
    let r = (min(max(x, -1e9), 1e9) * 100).rounded() / 100
    return r == r.rounded() ? String(Int(r)) : trimmed(r, decimals: 2)
  }

  /// Text made safe for SVG.
  static func escape(_ s: String) -> String {
    var out = ""
    for ch in s {
      switch ch {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      default:
        if ch.unicodeScalars.allSatisfy({ $0.value < 0x20 }) { out += " " } else { out.append(ch) }
      }
    }
    return out
  }
}
