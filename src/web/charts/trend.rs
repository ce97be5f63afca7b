//! The monthly trend of an index: a line through the monthly values over a shaded interval
//! band, with a gap wherever a month has no value.
//!
//! Months are evenly spaced in the caller's order; at most 12 month labels are drawn (every
//! k-th from the first). The y axis is a window of percentages with nice ends inside 0–100%,
//! at least 10 points wide, covering every value and band end: it need not start at 0.

use maud::{Markup, html};

use super::Locale;
use super::svg::{self, Axis, Frame, Scale, coord, percent, unit};

/// One month of the trend.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// Month label drawn under the axis, e.g. "01/2026".
    pub label: String,
    /// The index (fraction); `None`, NaN or ∞ leaves a gap. Out-of-range values are clamped.
    pub value: Option<f64>,
    /// Lower end of the interval (fraction); the band is drawn where both ends exist.
    pub low: Option<f64>,
    /// Upper end of the interval (fraction).
    pub high: Option<f64>,
}

/// Everything a trend chart shows; all text comes from the caller.
#[derive(Debug, Clone, Copy)]
pub struct TrendChart<'a> {
    /// Accessible name (`<title>`); not drawn, give the page a visible heading.
    pub title: &'a str,
    /// Text alternative (`<desc>`): what the chart shows and what stands out.
    pub description: &'a str,
    /// Label along the y axis.
    pub y_label: &'a str,
    /// The months, oldest first.
    pub points: &'a [TrendPoint],
    /// Language of numbers and built-in words.
    pub locale: Locale,
}

/// Renders the trend as a standalone SVG; "no data" when no month has a finite value.
pub fn trend_svg(chart: &TrendChart<'_>) -> Markup {
    let body = if chart.points.iter().any(|p| value(p).is_some()) {
        plot(chart)
    } else {
        svg::no_data(chart.locale)
    };
    svg::document("trend", chart.title, chart.description, body)
}

const FRAME: Frame = Frame {
    left: 64.0,
    top: 16.0,
    right: svg::WIDTH - 16.0,
    bottom: svg::HEIGHT - 44.0,
};
const INK: &str = "#1f4e79";
/// At most this many month labels.
const MAX_LABELS: usize = 12;

/// The month's value clamped to `[0, 1]`, if it is a number.
fn value(p: &TrendPoint) -> Option<f64> {
    p.value.and_then(unit)
}

/// The month's interval clamped to `[0, 1]` and ordered, if both ends are numbers.
fn band(p: &TrendPoint) -> Option<(f64, f64)> {
    let (a, b) = (unit(p.low?)?, unit(p.high?)?);
    Some((a.min(b), a.max(b)))
}

/// The horizontal centre of month `i` of `count`.
fn x_at(i: usize, count: usize) -> f64 {
    let slot = (FRAME.right - FRAME.left) / count.max(1) as f64;
    FRAME.left + (i as f64 + 0.5) * slot
}

fn plot(chart: &TrendChart<'_>) -> Markup {
    let axis = y_axis(chart.points);
    let y = Scale::new(&axis, FRAME.bottom, FRAME.top);
    html! {
        (svg::y_percent_grid(&FRAME, &axis, &y, chart.locale))
        (x_labels(chart.points))
        (svg::axis_lines(&FRAME))
        (svg::y_label(&FRAME, chart.y_label))
        (bands(chart.points, &y))
        (lines(chart.points, &y))
        (circles(chart.points, &y, chart.locale))
    }
}

/// A percent window over every value and band end.
fn y_axis(points: &[TrendPoint]) -> Axis {
    let all: Vec<f64> = points
        .iter()
        .flat_map(|p| {
            let (low, high) = band(p).unzip();
            [value(p), low, high]
        })
        .flatten()
        .map(|v| v * 100.0)
        .collect();
    let lo = all.iter().copied().fold(100.0, f64::min);
    let hi = all.iter().copied().fold(0.0, f64::max);
    Axis::percent_window(lo, hi.max(lo), 10.0, 5.0)
}

fn x_labels(points: &[TrendPoint]) -> Markup {
    let every = points.len().div_ceil(MAX_LABELS).max(1);
    let y = FRAME.bottom + 16.0;
    html! {
        g class="x-axis" font-size="11" fill="#333" {
            @for (i, p) in points.iter().enumerate().step_by(every) {
                @let x = coord(x_at(i, points.len()));
                line x1=(x) x2=(x) y1=(coord(FRAME.bottom)) y2=(coord(FRAME.bottom + 4.0))
                    stroke="#888" stroke-width="1" {}
                text x=(x) y=(coord(y)) text-anchor="middle" { (p.label) }
            }
        }
    }
}

/// Splits a sequence at its `None`s into runs of consecutive `Some`s.
fn runs<T>(items: impl IntoIterator<Item = Option<T>>) -> Vec<Vec<T>> {
    let mut runs = Vec::new();
    let mut current = Vec::new();
    for item in items {
        match item {
            Some(v) => current.push(v),
            None if current.is_empty() => {}
            None => runs.push(std::mem::take(&mut current)),
        }
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

/// One polygon per run of months with an interval; a lone month gets a narrow bar.
fn bands(points: &[TrendPoint], y: &Scale) -> Markup {
    let count = points.len();
    let runs = runs(points.iter().enumerate().map(|(i, p)| {
        band(p).map(|(low, high)| (x_at(i, count), y.at(low * 100.0), y.at(high * 100.0)))
    }));
    html! {
        @for run in runs {
            polygon class="band" points=(svg::points_attr(&band_outline(&run))) fill=(INK)
                fill-opacity="0.15" stroke="none" {}
        }
    }
}

/// The outline of a band run of (x, y_low, y_high): along the tops, back along the bottoms.
fn band_outline(run: &[(f64, f64, f64)]) -> Vec<(f64, f64)> {
    let widened;
    let run = match run {
        [(x, low, high)] => {
            widened = [(x - 3.0, *low, *high), (x + 3.0, *low, *high)];
            &widened[..]
        }
        _ => run,
    };
    let tops = run.iter().map(|&(x, _, high)| (x, high));
    let bottoms = run.iter().rev().map(|&(x, low, _)| (x, low));
    tops.chain(bottoms).collect()
}

/// One polyline per run of at least two consecutive months with a value.
fn lines(points: &[TrendPoint], y: &Scale) -> Markup {
    let count = points.len();
    let runs = runs(
        points
            .iter()
            .enumerate()
            .map(|(i, p)| value(p).map(|v| (x_at(i, count), y.at(v * 100.0)))),
    );
    html! {
        @for run in runs.iter().filter(|r| r.len() > 1) {
            polyline class="line" points=(svg::points_attr(run)) fill="none" stroke=(INK)
                stroke-width="2" stroke-linejoin="round" stroke-linecap="round" {}
        }
    }
}

/// A circle per month with a value, its tooltip giving the value and interval.
fn circles(points: &[TrendPoint], y: &Scale, locale: Locale) -> Markup {
    html! {
        g class="points" {
            @for (i, p) in points.iter().enumerate() {
                @if let (Some(v), Some(raw)) = (value(p), p.value) {
                    circle class="point" cx=(coord(x_at(i, points.len())))
                        cy=(coord(y.at(v * 100.0))) r="3.5" fill=(INK) stroke="#ffffff"
                        stroke-width="1" data-value=(raw) {
                        title { (tooltip(p, v, locale)) }
                    }
                }
            }
        }
    }
}

/// "label: value" and, when known, " (low–high)".
fn tooltip(p: &TrendPoint, v: f64, locale: Locale) -> String {
    let interval = band(p)
        .map(|(low, high)| format!(" ({}–{})", percent(low, locale), percent(high, locale)))
        .unwrap_or_default();
    format!("{}: {}{}", p.label, percent(v, locale), interval)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::svg::check::{accessible, attr, tags};
    use super::*;

    fn month(i: usize, value: Option<f64>, band: Option<(f64, f64)>) -> TrendPoint {
        TrendPoint {
            label: format!("{:02}/2026", i + 1),
            value,
            low: band.map(|b| b.0),
            high: band.map(|b| b.1),
        }
    }

    fn chart(points: &[TrendPoint], locale: Locale) -> TrendChart<'_> {
        TrendChart {
            title: "Chỉ số hài lòng",
            description: "Chỉ số SIPAS theo tháng",
            y_label: "Chỉ số",
            points,
            locale,
        }
    }

    fn year() -> Vec<TrendPoint> {
        (0..6)
            .map(|i| {
                let v = 0.8 + i as f64 * 0.01;
                month(i, Some(v), Some((v - 0.03, v + 0.03)))
            })
            .collect()
    }

    #[test]
    fn draws_line_band_and_circles() {
        let pts = year();
        let svg = trend_svg(&chart(&pts, Locale::Vi)).into_string();
        accessible(&svg);
        assert_eq!(tags(&svg, "circle").len(), 6);
        assert_eq!(
            tags(&svg, "polyline")
                .iter()
                .filter(|t| attr(t, "class") == Some("line"))
                .count(),
            1
        );
        assert_eq!(
            tags(&svg, "polygon")
                .iter()
                .filter(|t| attr(t, "class") == Some("band"))
                .count(),
            1
        );
        let values: Vec<f64> = tags(&svg, "circle")
            .iter()
            .map(|c| attr(c, "data-value").unwrap().parse().unwrap())
            .collect();
        assert_eq!(values[5], 0.8 + 5.0 * 0.01);
        assert!(
            svg.contains("<title>03/2026: 82% (79%–85%)</title>"),
            "{svg}"
        );
        for m in 1..=6 {
            assert!(svg.contains(&format!(">{m:02}/2026<")));
        }
    }

    #[test]
    fn gaps_break_the_line_and_the_band() {
        let mut pts = year();
        pts[2].value = None;
        pts[2].low = None;
        pts[4].value = Some(f64::NAN);
        let svg = trend_svg(&chart(&pts, Locale::En)).into_string();
        accessible(&svg);
        assert_eq!(tags(&svg, "circle").len(), 4);
        // values at months 0–1, 3, 5: one line of two points, lone months only have circles.
        let lines = tags(&svg, "polyline");
        let lines: Vec<_> = lines
            .iter()
            .filter(|t| attr(t, "class") == Some("line"))
            .collect();
        assert_eq!(lines.len(), 1);
        // bands at months 0–1 and 3–5.
        assert_eq!(tags(&svg, "polygon").len(), 2);
    }

    #[test]
    fn lone_band_month_is_a_narrow_polygon() {
        let pts = vec![month(0, Some(0.5), Some((0.4, 0.6)))];
        let svg = trend_svg(&chart(&pts, Locale::Vi)).into_string();
        accessible(&svg);
        let band = tags(&svg, "polygon")[0];
        assert_eq!(attr(band, "points").unwrap().split(' ').count(), 4);
        assert_eq!(
            tags(&svg, "polyline")
                .iter()
                .filter(|t| attr(t, "class") == Some("line"))
                .count(),
            0
        );
    }

    #[test]
    fn many_months_are_thinned_to_twelve_labels() {
        let pts: Vec<TrendPoint> = (0..30).map(|i| month(i % 12, Some(0.5), None)).collect();
        let svg = trend_svg(&chart(&pts, Locale::Vi)).into_string();
        let g = svg.split("<g class=\"x-axis\"").nth(1).unwrap();
        let g = &g[..g.find("</g>").unwrap()];
        assert!(tags(g, "text").len() <= MAX_LABELS);
        assert_eq!(tags(g, "text").len(), 10);
        assert_eq!(tags(&svg, "circle").len(), 30);
    }

    #[test]
    fn y_axis_is_a_nice_window() {
        let axis = y_axis(&year());
        assert_eq!((axis.min, axis.max), (75.0, 90.0));
        let pts = vec![month(0, Some(0.125), None)];
        let svg = trend_svg(&chart(&pts, Locale::Vi)).into_string();
        assert!(svg.contains("<title>01/2026: 12,5%</title>"), "{svg}");
        assert_eq!(
            y_axis(&pts),
            Axis {
                min: 8.0,
                max: 18.0,
                step: 2.0
            }
        );
    }

    #[test]
    fn text_is_escaped_and_output_deterministic() {
        let mut pts = year();
        pts[0].label = "<script>x</script>".to_owned();
        let mut c = chart(&pts, Locale::Vi);
        c.description = "a < b & c";
        let a = trend_svg(&c).into_string();
        accessible(&a);
        assert!(!a.contains("<script"));
        assert!(a.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(a.contains("a &lt; b &amp; c"));
        assert_eq!(a, trend_svg(&c).into_string());
    }

    #[test]
    fn empty_or_valueless_input_says_no_data() {
        for pts in [
            vec![],
            vec![
                month(0, None, Some((0.1, 0.2))),
                month(1, Some(f64::INFINITY), None),
            ],
        ] {
            let svg = trend_svg(&chart(&pts, Locale::En)).into_string();
            accessible(&svg);
            assert!(svg.contains("No data"));
            assert!(tags(&svg, "circle").is_empty());
        }
    }

    #[test]
    fn out_of_range_values_are_clamped() {
        let pts = vec![
            month(0, Some(1.4), Some((f64::NAN, 2.0))),
            month(1, Some(-0.5), Some((0.9, -1.0))),
        ];
        let svg = trend_svg(&chart(&pts, Locale::Vi)).into_string();
        accessible(&svg);
        assert!(svg.contains("<title>01/2026: 100%</title>"));
        assert!(svg.contains("<title>02/2026: 0% (0%–90%)</title>"));
        assert_eq!(attr(tags(&svg, "circle")[0], "data-value"), Some("1.4"));
        assert!(!svg.contains("NaN"));
    }
}
