//! Shared SVG plumbing for the charts: the accessible `<svg>` wrapper, the plot frame and
//! scales, "nice" axis ticks, gridlines, legends and locale-aware number formatting.

use maud::{Markup, html};

use super::Locale;

/// Width of every chart's `viewBox`, in user units.
pub(super) const WIDTH: f64 = 640.0;
/// Height of every chart's `viewBox`, in user units.
pub(super) const HEIGHT: f64 = 400.0;
/// Font size of tick labels and legend text.
const SMALL_FONT: f64 = 11.0;
/// Rough advance of one character at `SMALL_FONT`, used to lay out the legend.
const CHAR_WIDTH: f64 = 6.4;
/// Colour of gridlines.
const GRID: &str = "#e3e6ea";
/// Colour of axis text.
const INK: &str = "#333";
/// Slack for floating-point rounding when snapping to ticks.
const EPS: f64 = 1e-9;

/// The plotting rectangle inside the `viewBox`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    pub left: f64,
    pub top: f64,
    pub right: f64,
    pub bottom: f64,
}

/// A linear map from a data interval onto a pixel interval; values outside are pinned to the
/// nearer end.
#[derive(Debug, Clone, Copy)]
pub(super) struct Scale {
    d0: f64,
    d1: f64,
    p0: f64,
    p1: f64,
}

impl Scale {
    /// Maps `[axis.min, axis.max]` onto `[p0, p1]`.
    pub fn new(axis: &Axis, p0: f64, p1: f64) -> Scale {
        Scale {
            d0: axis.min,
            d1: axis.max,
            p0,
            p1,
        }
    }

    /// The pixel position of `v`.
    pub fn at(&self, v: f64) -> f64 {
        let span = self.d1 - self.d0;
        if span <= 0.0 {
            return self.p0;
        }
        let t = ((v - self.d0) / span).clamp(0.0, 1.0);
        self.p0 + t * (self.p1 - self.p0)
    }
}

/// An axis range whose ends are multiples of a "nice" step (1, 2, 2.5 or 5 × 10ᵏ).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Axis {
    pub min: f64,
    pub max: f64,
    pub step: f64,
}

impl Axis {
    /// From 0 to the smallest multiple of a nice step that is ≥ `max`, in about `ticks` steps,
    /// never with a step below `min_step`. A non-positive or non-finite `max` gives `0..1`.
    pub fn zero_to(max: f64, ticks: f64, min_step: f64) -> Axis {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let step = nice_step(max / ticks).max(min_step);
        Axis {
            min: 0.0,
            max: (max / step - EPS).ceil() * step,
            step,
        }
    }

    /// A window of percentages covering `lo..=hi`, at least `min_span` points wide, with nice
    /// ends inside `0..=100`.
    pub fn percent_window(lo: f64, hi: f64, min_span: f64, ticks: f64) -> Axis {
        let span = (hi - lo).max(min_span).min(100.0);
        let step = nice_step(span / ticks);
        let mut min = (lo / step + EPS).floor() * step;
        let mut max = (hi / step - EPS).ceil() * step;
        // Widen a too-narrow window by whole steps, half below (not under 0), half above.
        let short = ((span - (max - min)) / step - EPS).ceil().max(0.0);
        let below = (short / 2.0).floor().min((min / step).round());
        min -= below * step;
        max += (short - below) * step;
        if max > 100.0 {
            min -= max - 100.0;
            max = 100.0;
        }
        Axis {
            min: min.max(0.0),
            max,
            step,
        }
    }

    /// The tick values from `min` to `max` inclusive.
    pub fn ticks(&self) -> Vec<f64> {
        let count = ((self.max - self.min) / self.step).round() as usize;
        (0..=count)
            .map(|i| self.min + i as f64 * self.step)
            .collect()
    }

    /// How many decimals the tick labels need (0–3).
    pub fn decimals(&self) -> usize {
        (0..3)
            .find(|&d| {
                let scaled = self.step * 10f64.powi(d as i32);
                (scaled - scaled.round()).abs() < 1e-6
            })
            .unwrap_or(3)
    }
}

/// The smallest of 1, 2, 2.5, 5, 10 × 10ᵏ that is ≥ `raw` (1 for a non-positive `raw`).
pub(super) fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let norm = raw / magnitude;
    let nice = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|&n| norm <= n + EPS)
        .unwrap_or(10.0);
    nice * magnitude
}

/// A coordinate with one decimal, never "-0.0".
pub(super) fn coord(v: f64) -> String {
    let rounded = (v * 10.0).round() / 10.0 + 0.0;
    format!("{rounded:.1}")
}

/// The `points` attribute of a polyline or polygon.
pub(super) fn points_attr(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|&(x, y)| format!("{},{}", coord(x), coord(y)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `v` with `decimals` decimals and grouped thousands, in the locale's separators.
pub(super) fn number(v: f64, decimals: usize, locale: Locale) -> String {
    let (group, point) = match locale {
        Locale::Vi => ('.', ','),
        Locale::En => (',', '.'),
    };
    let text = format!("{:.*}", decimals, v.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::new();
    if v < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(point);
        out.push_str(frac);
    }
    out
}

/// A fraction as a percentage with at most one decimal ("12,5%", "30%").
pub(super) fn percent(fraction: f64, locale: Locale) -> String {
    let text = number(fraction * 100.0, 1, locale);
    let text = text
        .strip_suffix(",0")
        .or_else(|| text.strip_suffix(".0"))
        .unwrap_or(&text);
    format!("{text}%")
}

/// `v` clamped to `0..=1`, or `None` when it is not a number.
pub(super) fn unit(v: f64) -> Option<f64> {
    v.is_finite().then(|| v.clamp(0.0, 1.0))
}

/// A stable id for a chart's `<title>`/`<desc>`: FNV-1a of its kind, title and description,
/// so that two different charts on one page do not share ids.
fn chart_id(kind: &str, title: &str, description: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in [kind, title, description].join("\u{1f}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("chart-{kind}-{hash:016x}")
}

/// The accessible `<svg>` root around `body`, with the caller's `title` and `description`.
pub(super) fn document(kind: &str, title: &str, description: &str, body: Markup) -> Markup {
    let id = chart_id(kind, title, description);
    let view_box = format!("0 0 {WIDTH} {HEIGHT}");
    html! {
        svg xmlns="http://www.w3.org/2000/svg" viewBox=(view_box) width="100%"
            role="img" aria-labelledby={ (id) "-title " (id) "-desc" }
            class={ "chart chart-" (kind) } font-family="system-ui, sans-serif" font-size="12" {
            title id={ (id) "-title" } { (title) }
            desc id={ (id) "-desc" } { (description) }
            (body)
        }
    }
}

/// The centred "no data" message of an empty chart.
pub(super) fn no_data(locale: Locale) -> Markup {
    html! {
        text class="no-data" x=(coord(WIDTH / 2.0)) y=(coord(HEIGHT / 2.0)) text-anchor="middle"
            dominant-baseline="middle" fill="#666" font-size="16" {
            (locale.pick("Chưa có dữ liệu", "No data"))
        }
    }
}

/// Horizontal gridlines with percentage labels on the left, for an axis in percent units.
pub(super) fn y_percent_grid(frame: &Frame, axis: &Axis, y: &Scale, locale: Locale) -> Markup {
    let decimals = axis.decimals();
    html! {
        g class="y-axis" {
            @for tick in axis.ticks() {
                @let py = coord(y.at(tick));
                line x1=(coord(frame.left)) x2=(coord(frame.right)) y1=(py) y2=(py)
                    stroke=(GRID) stroke-width="1" {}
                text x=(coord(frame.left - 6.0)) y=(py) text-anchor="end"
                    dominant-baseline="middle" font-size=(SMALL_FONT) fill=(INK) {
                    (number(tick, decimals, locale)) "%"
                }
            }
        }
    }
}

/// The frame's bottom and left axis lines.
pub(super) fn axis_lines(frame: &Frame) -> Markup {
    let points = [
        (frame.left, frame.top),
        (frame.left, frame.bottom),
        (frame.right, frame.bottom),
    ];
    html! {
        polyline class="axes" points=(points_attr(&points)) fill="none" stroke="#888"
            stroke-width="1" {}
    }
}

/// The caller's y-axis label, rotated along the left edge.
pub(super) fn y_label(frame: &Frame, text: &str) -> Markup {
    let x = coord(16.0);
    let y = coord((frame.top + frame.bottom) / 2.0);
    html! {
        text class="axis-label" x=(x) y=(y) text-anchor="middle" fill=(INK)
            transform={ "rotate(-90 " (x) " " (y) ")" } {
            (text)
        }
    }
}

/// What a legend entry shows next to its text.
#[derive(Debug, Clone, Copy)]
pub(super) enum Swatch {
    /// A short line in `stroke`, `width` wide, dashed by `dash` when given.
    Line {
        stroke: &'static str,
        width: f64,
        dash: Option<&'static str>,
    },
    /// A round marker filled with `fill` (a rounded `<rect>`, so that only data are circles).
    Marker { fill: &'static str },
}

/// One legend entry.
#[derive(Debug, Clone, Copy)]
pub(super) struct LegendItem {
    pub swatch: Swatch,
    pub text: &'static str,
}

/// Width of a legend swatch plus the gap before its text.
const SWATCH: f64 = 26.0;
/// Gap between legend entries.
const LEGEND_GAP: f64 = 16.0;
/// Height of one legend row.
pub(super) const LEGEND_ROW: f64 = 18.0;

/// The legend entries' positions, wrapped into rows between `left` and `right` from `top`.
fn legend_layout(items: &[LegendItem], left: f64, right: f64) -> Vec<(f64, f64)> {
    let mut x = left;
    let mut row = 0.0;
    items
        .iter()
        .map(|item| {
            let width = SWATCH + item.text.chars().count() as f64 * CHAR_WIDTH;
            if x > left && x + width > right {
                x = left;
                row += 1.0;
            }
            let at = (x, row);
            x += width + LEGEND_GAP;
            at
        })
        .collect()
}

/// How many rows the legend takes between `left` and `right`.
pub(super) fn legend_rows(items: &[LegendItem], left: f64, right: f64) -> usize {
    legend_layout(items, left, right)
        .last()
        .map_or(0, |&(_, row)| row as usize + 1)
}

/// The legend, its first row centred on `top`.
pub(super) fn legend(items: &[LegendItem], left: f64, right: f64, top: f64) -> Markup {
    let layout = legend_layout(items, left, right);
    html! {
        g class="legend" font-size=(SMALL_FONT) fill=(INK) {
            @for (item, (x, row)) in items.iter().zip(layout) {
                @let y = top + row * LEGEND_ROW;
                (swatch(item.swatch, x, y))
                text x=(coord(x + SWATCH)) y=(coord(y)) dominant-baseline="middle" { (item.text) }
            }
        }
    }
}

/// One legend swatch at (`x`, `y`).
fn swatch(swatch: Swatch, x: f64, y: f64) -> Markup {
    match swatch {
        Swatch::Line {
            stroke,
            width,
            dash,
        } => html! {
            line x1=(coord(x)) x2=(coord(x + 20.0)) y1=(coord(y)) y2=(coord(y)) stroke=(stroke)
                stroke-width=(width) stroke-dasharray=[dash] {}
        },
        Swatch::Marker { fill } => html! {
            rect x=(coord(x + 5.0)) y=(coord(y - 5.0)) width="10" height="10" rx="5" fill=(fill) {}
        },
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
pub(super) mod check {
    //! Test helpers: a tiny well-formedness check and attribute readers over the markup text.

    /// Panics unless every tag in `svg` is closed in order and the root is a namespaced `<svg>`.
    pub fn well_formed(svg: &str) {
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        let mut stack: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(open) = rest.find('<') {
            let after = &rest[open + 1..];
            let close = after.find('>').expect("a tag is not closed");
            let tag = &after[..close];
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(stack.pop(), Some(name), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                stack.push(tag.split_whitespace().next().expect("empty tag"));
            }
            rest = &after[close + 1..];
        }
        assert!(stack.is_empty(), "unclosed: {stack:?}");
    }

    /// The opening tags `<name …>` in `svg`, without the brackets.
    pub fn tags<'a>(svg: &'a str, name: &str) -> Vec<&'a str> {
        let needle = format!("<{name} ");
        svg.match_indices(&needle)
            .map(|(i, _)| {
                let tag = &svg[i + 1..];
                &tag[..tag.find('>').expect("open tag")]
            })
            .collect()
    }

    /// The value of attribute `attr` in an opening tag, if present.
    pub fn attr<'a>(tag: &'a str, attr: &str) -> Option<&'a str> {
        let needle = format!(" {attr}=\"");
        let start = tag.find(&needle)? + needle.len();
        tag[start..].split('"').next()
    }

    /// Panics unless the chart honours the CSP and accessibility rules.
    pub fn accessible(svg: &str) {
        well_formed(svg);
        assert!(!svg.contains("style="), "inline style");
        assert!(!svg.contains("<script"), "script");
        let root = &tags(svg, "svg")[0];
        assert_eq!(attr(root, "role"), Some("img"));
        assert_eq!(attr(root, "width"), Some("100%"));
        assert!(attr(root, "viewBox").is_some());
        let labelled = attr(root, "aria-labelledby").expect("aria-labelledby");
        let ids: Vec<&str> = labelled.split(' ').collect();
        assert_eq!(ids.len(), 2);
        assert!(svg.contains(&format!("<title id=\"{}\">", ids[0])));
        assert!(svg.contains(&format!("<desc id=\"{}\">", ids[1])));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step(0.06), 0.1);
        assert_eq!(nice_step(19.0), 20.0);
        assert_eq!(nice_step(2.2), 2.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(f64::NAN), 1.0);
    }

    #[test]
    fn zero_based_axis_covers_the_maximum() {
        let axis = Axis::zero_to(0.3, 5.0, 0.0);
        assert!(axis.max >= 0.3 - EPS && axis.max < 0.4);
        assert_eq!(Axis::zero_to(1234.0, 5.0, 1.0).max, 1250.0);
        assert_eq!(Axis::zero_to(1.0, 5.0, 1.0).step, 1.0);
        assert_eq!(Axis::zero_to(f64::NAN, 5.0, 0.0).max, 1.0);
        assert_eq!(Axis::zero_to(95.0, 5.0, 0.0).ticks().len(), 6);
    }

    #[test]
    fn percent_window_stays_inside_0_100() {
        let w = Axis::percent_window(97.0, 100.0, 10.0, 5.0);
        assert_eq!((w.min, w.max), (90.0, 100.0));
        let w = Axis::percent_window(50.0, 50.0, 10.0, 5.0);
        assert_eq!((w.min, w.max), (46.0, 56.0));
        let w = Axis::percent_window(1.0, 2.0, 10.0, 5.0);
        assert_eq!((w.min, w.max), (0.0, 10.0));
        let w = Axis::percent_window(0.0, 100.0, 10.0, 5.0);
        assert_eq!((w.min, w.max), (0.0, 100.0));
    }

    #[test]
    fn numbers_follow_the_locale() {
        assert_eq!(number(1234.5, 1, Locale::Vi), "1.234,5");
        assert_eq!(number(1234.5, 1, Locale::En), "1,234.5");
        assert_eq!(number(1_000_000.0, 0, Locale::Vi), "1.000.000");
        assert_eq!(number(-0.01, 1, Locale::En), "0.0");
        assert_eq!(percent(0.125, Locale::Vi), "12,5%");
        assert_eq!(percent(0.3, Locale::En), "30%");
        assert_eq!(coord(-0.01), "0.0");
    }

    #[test]
    fn tick_decimals() {
        let axis = Axis {
            min: 0.0,
            max: 10.0,
            step: 2.5,
        };
        assert_eq!(axis.decimals(), 1);
        assert_eq!(Axis::zero_to(40.0, 5.0, 0.0).decimals(), 0);
    }
}
