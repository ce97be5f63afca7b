//! The funnel plot (Spiegelhalter) of one indicator: each agency's rate against its number of
//! responses, with the baseline and the 95%, 99.8% and overdispersion-adjusted control limits.
//!
//! The x axis is linear from 0 to a nice maximum ≥ the largest n among the points and the
//! limits (the conventional funnel shape; no log scale). The y axis is the rate in percent from
//! 0 to a nice maximum ≥ every rate, the baseline and every upper limit, capped at 100%.
//!
//! The plot is one image (`role="img"`): nothing in it takes focus or a click, so it adds no
//! tab stop and nests no control; the page puts the agencies' links in a table beside it.
//! Flagged points are circles with a tooltip; the others, which may be thousands at national
//! size, are the dots of a single path (a zero-length segment with round caps per agency, at
//! half-unit positions, each position once), a few bytes each.

use maud::{Markup, html};

use super::Locale;
use super::svg::{
    self, Axis, Frame, LEGEND_ROW, LegendItem, Scale, Swatch, coord, number, percent, unit,
};
use crate::stats::Severity;
use crate::stats::funnel::FunnelLimits;

/// One agency on the funnel plot.
#[derive(Debug, Clone, PartialEq)]
pub struct FunnelPoint {
    /// Agency name, shown in a flagged point's tooltip.
    pub label: String,
    /// Number of responses.
    pub n: u64,
    /// Observed rate in `[0, 1]`: out-of-range values are drawn clamped, NaN/∞ are not drawn.
    pub rate: f64,
    /// The agency's flag, which decides the point's look: grey-blue `ok`, amber (#c77700)
    /// larger `alert`, red (#b00020) largest with a dark outline `alarm`.
    pub flag: Severity,
}

/// The control limits at one sample size; a sorted list of these traces the funnel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LimitsAt {
    /// Sample size.
    pub n: u64,
    /// The 95% and 99.8% limits (fractions).
    pub limits: FunnelLimits,
    /// Upper limit adjusted for overdispersion, when one was estimated (fraction).
    pub upper_overdispersed: Option<f64>,
}

/// Everything a funnel plot shows; all text comes from the caller.
#[derive(Debug, Clone, Copy)]
pub struct FunnelChart<'a> {
    /// Accessible name (`<title>`); not drawn, give the page a visible heading.
    pub title: &'a str,
    /// Text alternative (`<desc>`): what the chart shows and what stands out.
    pub description: &'a str,
    /// Label under the x axis (number of responses).
    pub x_label: &'a str,
    /// Label along the y axis (the rate).
    pub y_label: &'a str,
    /// The baseline rate (fraction), drawn as a horizontal line.
    pub baseline: f64,
    /// The agencies.
    pub points: &'a [FunnelPoint],
    /// The limits, one per sample size along the x axis.
    pub limits: &'a [LimitsAt],
    /// Language of numbers and legend.
    pub locale: Locale,
}

/// Renders the funnel plot as a standalone SVG; "no data" when no point has a finite rate.
pub fn funnel_svg(chart: &FunnelChart<'_>) -> Markup {
    let body = if chart.points.iter().any(|p| p.rate.is_finite()) {
        plot(chart)
    } else {
        svg::no_data(chart.locale)
    };
    svg::document("funnel", chart.title, chart.description, body)
}

const LEFT: f64 = 64.0;
const RIGHT: f64 = svg::WIDTH - 16.0;
const BOTTOM: f64 = svg::HEIGHT - 60.0;
const LIMIT_INK: &str = "#5f6b7a";
const BASELINE_INK: &str = "#1f4e79";
const OK_FILL: &str = "#6f86a0";
const ALERT_FILL: &str = "#c77700";
const ALARM_FILL: &str = "#b00020";

/// The frame and scales of one plot.
struct Layout {
    frame: Frame,
    x_axis: Axis,
    y_axis: Axis,
    x: Scale,
    y: Scale,
}

fn plot(chart: &FunnelChart<'_>) -> Markup {
    let items = legend_items(chart);
    let rows = svg::legend_rows(&items, LEFT, RIGHT) as f64;
    let layout = layout(chart, 24.0 + rows * LEGEND_ROW);
    let frame = &layout.frame;
    html! {
        (svg::legend(&items, LEFT, RIGHT, 14.0))
        (svg::y_percent_grid(frame, &layout.y_axis, &layout.y, chart.locale))
        (x_grid(&layout, chart.locale))
        (svg::axis_lines(frame))
        (svg::y_label(frame, chart.y_label))
        text class="axis-label" x=(coord((frame.left + frame.right) / 2.0))
            y=(coord(svg::HEIGHT - 14.0)) text-anchor="middle" fill="#333" { (chart.x_label) }
        (baseline(chart.baseline, &layout))
        (limits(chart.limits, &layout))
        (points(chart.points, &layout, chart.locale))
    }
}

fn layout(chart: &FunnelChart<'_>, top: f64) -> Layout {
    let max_n = chart
        .points
        .iter()
        .filter(|p| p.rate.is_finite())
        .map(|p| p.n)
        .chain(chart.limits.iter().map(|l| l.n))
        .max()
        .unwrap_or(0);
    let x_axis = Axis::zero_to(max_n as f64, 5.0, 1.0);
    let y_axis = Axis::zero_to(max_rate(chart) * 100.0, 5.0, 0.0);
    let frame = Frame {
        left: LEFT,
        top,
        right: RIGHT,
        bottom: BOTTOM,
    };
    Layout {
        x: Scale::new(&x_axis, frame.left, frame.right),
        y: Scale::new(&y_axis, frame.bottom, frame.top),
        frame,
        x_axis,
        y_axis,
    }
}

/// The largest of the rates, the baseline and the upper limits, clamped to `[0, 1]`.
fn max_rate(chart: &FunnelChart<'_>) -> f64 {
    let limits = chart.limits.iter().flat_map(|l| {
        [
            Some(l.limits.upper_95),
            Some(l.limits.upper_998),
            l.upper_overdispersed,
        ]
        .into_iter()
        .flatten()
    });
    chart
        .points
        .iter()
        .map(|p| p.rate)
        .chain(limits)
        .chain([chart.baseline])
        .filter_map(unit)
        .fold(0.0, f64::max)
}

fn x_grid(layout: &Layout, locale: Locale) -> Markup {
    let frame = &layout.frame;
    html! {
        g class="x-axis" {
            @for tick in layout.x_axis.ticks() {
                @let px = coord(layout.x.at(tick));
                line x1=(px) x2=(px) y1=(coord(frame.top)) y2=(coord(frame.bottom))
                    stroke="#e3e6ea" stroke-width="1" {}
                text x=(px) y=(coord(frame.bottom + 16.0)) text-anchor="middle" font-size="11"
                    fill="#333" {
                    (number(tick, 0, locale))
                }
            }
        }
    }
}

fn baseline(rate: f64, layout: &Layout) -> Markup {
    let Some(rate) = unit(rate) else {
        return html! {};
    };
    let y = coord(layout.y.at(rate * 100.0));
    html! {
        line class="baseline" x1=(coord(layout.frame.left)) x2=(coord(layout.frame.right))
            y1=(y) y2=(y) stroke=(BASELINE_INK) stroke-width="1.5" {}
    }
}

/// One limit curve: which field it traces and how it is stroked.
struct Series {
    class: &'static str,
    width: &'static str,
    dash: Option<&'static str>,
    value: fn(&LimitsAt) -> Option<f64>,
}

const SERIES: [Series; 5] = [
    Series {
        class: "limit-998",
        width: "0.75",
        dash: None,
        value: |l| Some(l.limits.lower_998),
    },
    Series {
        class: "limit-998",
        width: "0.75",
        dash: None,
        value: |l| Some(l.limits.upper_998),
    },
    Series {
        class: "limit-95",
        width: "1.25",
        dash: Some("6 4"),
        value: |l| Some(l.limits.lower_95),
    },
    Series {
        class: "limit-95",
        width: "1.25",
        dash: Some("6 4"),
        value: |l| Some(l.limits.upper_95),
    },
    Series {
        class: "limit-od",
        width: "1.5",
        dash: Some("1.5 3"),
        value: |l| l.upper_overdispersed,
    },
];

fn limits(limits: &[LimitsAt], layout: &Layout) -> Markup {
    let mut sorted: Vec<&LimitsAt> = limits.iter().collect();
    sorted.sort_by_key(|l| l.n);
    html! {
        @for series in &SERIES {
            (limit_line(series, &sorted, layout))
        }
    }
}

/// A polyline through the finite values of one series; nothing when fewer than two.
fn limit_line(series: &Series, limits: &[&LimitsAt], layout: &Layout) -> Markup {
    let points: Vec<(f64, f64)> = limits
        .iter()
        .filter_map(|l| {
            let v = unit((series.value)(l)?)?;
            Some((layout.x.at(l.n as f64), layout.y.at(v * 100.0)))
        })
        .collect();
    if points.len() < 2 {
        return html! {};
    }
    html! {
        polyline class=(series.class) points=(svg::points_attr(&points)) fill="none"
            stroke=(LIMIT_INK) stroke-width=(series.width) stroke-dasharray=[series.dash]
            stroke-linecap="round" {}
    }
}

/// How a point of one flag is drawn.
struct Look {
    class: &'static str,
    fill: &'static str,
    stroke: &'static str,
    radius: &'static str,
}

fn look(flag: Severity) -> Look {
    match flag {
        Severity::None => Look {
            class: "ok",
            fill: OK_FILL,
            stroke: "#ffffff",
            radius: "4",
        },
        Severity::Alert => Look {
            class: "alert",
            fill: ALERT_FILL,
            stroke: "#ffffff",
            radius: "5",
        },
        Severity::Alarm => Look {
            class: "alarm",
            fill: ALARM_FILL,
            stroke: "#3d000b",
            radius: "6",
        },
    }
}

/// The drawable points: unflagged ones as one path of dots, flagged ones as circles on top
/// (alarms last).
fn points(points: &[FunnelPoint], layout: &Layout, locale: Locale) -> Markup {
    let mut flagged: Vec<&FunnelPoint> = points
        .iter()
        .filter(|p| p.rate.is_finite() && p.flag != Severity::None)
        .collect();
    flagged.sort_by_key(|p| p.flag);
    let dots = dot_path(
        points
            .iter()
            .filter(|p| p.rate.is_finite() && p.flag == Severity::None)
            .map(|p| position(p, layout)),
    );
    let ok = look(Severity::None);
    html! {
        g class="points" {
            @if !dots.is_empty() {
                path class=(ok.class) d=(dots) fill="none" stroke=(ok.fill)
                    stroke-width=(OK_DOT_WIDTH) stroke-linecap="round" {}
            }
            @for p in flagged {
                (point(p, layout, locale))
            }
        }
    }
}

/// Width of the round-capped stroke that draws an unflagged point (its diameter).
const OK_DOT_WIDTH: &str = "7";

/// Where a point is drawn.
fn position(p: &FunnelPoint, layout: &Layout) -> (f64, f64) {
    (
        layout.x.at(p.n as f64),
        layout.y.at(p.rate.clamp(0.0, 1.0) * 100.0),
    )
}

/// Path data drawing a dot at each position: positions rounded to half a unit, each once, in
/// order, as relative moves ("M64 300h0m2.5-1h0…").
fn dot_path(positions: impl Iterator<Item = (f64, f64)>) -> String {
    let mut halves: Vec<(i64, i64)> = positions
        .map(|(x, y)| ((x * 2.0).round() as i64, (y * 2.0).round() as i64))
        .collect();
    halves.sort_unstable();
    halves.dedup();
    // f64's Display writes 2 for 2.0 and -0.5 for -0.5: the shortest text.
    let half = |v: i64| format!("{}", v as f64 / 2.0);
    let mut d = String::with_capacity(halves.len() * 10);
    let mut at: Option<(i64, i64)> = None;
    for (x, y) in halves {
        match at {
            None => d.push_str(&format!("M{} {}h0", half(x), half(y))),
            Some((px, py)) => {
                let dy = half(y - py);
                let sep = if dy.starts_with('-') { "" } else { " " };
                d.push_str(&format!("m{}{sep}{dy}h0", half(x - px)));
            }
        }
        at = Some((x, y));
    }
    d
}

fn point(p: &FunnelPoint, layout: &Layout, locale: Locale) -> Markup {
    let rate = p.rate.clamp(0.0, 1.0);
    let look = look(p.flag);
    let (x, y) = position(p, layout);
    html! {
        circle class=(look.class) cx=(coord(x)) cy=(coord(y)) r=(look.radius) fill=(look.fill)
            stroke=(look.stroke) stroke-width="1" data-n=(p.n) data-rate=(p.rate) {
            title { (p.label) ": " (percent(rate, locale)) " (" (number(p.n as f64, 0, locale)) ")" }
        }
    }
}

fn legend_items(chart: &FunnelChart<'_>) -> Vec<LegendItem> {
    let l = chart.locale;
    let line = |width, dash, text| LegendItem {
        swatch: Swatch::Line {
            stroke: LIMIT_INK,
            width,
            dash,
        },
        text,
    };
    let marker = |fill, text| LegendItem {
        swatch: Swatch::Marker { fill },
        text,
    };
    let has_od = chart
        .limits
        .iter()
        .any(|x| x.upper_overdispersed.is_some_and(f64::is_finite));
    let mut items = vec![
        LegendItem {
            swatch: Swatch::Line {
                stroke: BASELINE_INK,
                width: 1.5,
                dash: None,
            },
            text: l.pick("Đường cơ sở", "Baseline"),
        },
        line(1.25, Some("6 4"), l.pick("Giới hạn 95%", "95% limits")),
        line(0.75, None, l.pick("Giới hạn 99,8%", "99.8% limits")),
    ];
    if has_od {
        items.push(line(
            1.5,
            Some("1.5 3"),
            l.pick("Hiệu chỉnh quá phân tán", "Overdispersion-adjusted"),
        ));
    }
    items.extend([
        marker(OK_FILL, l.pick("Không bị gắn cờ", "Not flagged")),
        marker(ALERT_FILL, l.pick("Cảnh báo", "Alert")),
        marker(ALARM_FILL, l.pick("Báo động", "Alarm")),
    ]);
    items
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::super::svg::check::{accessible, attr, tags};
    use super::*;

    fn point(label: &str, n: u64, rate: f64, flag: Severity) -> FunnelPoint {
        FunnelPoint {
            label: label.to_owned(),
            n,
            rate,
            flag,
        }
    }

    /// The positions of the unflagged dots, read back from the path.
    fn dots(svg: &str) -> Vec<(f64, f64)> {
        let Some(path) = tags(svg, "path")
            .into_iter()
            .find(|t| attr(t, "class") == Some("ok"))
        else {
            return Vec::new();
        };
        let mut at = (0.0, 0.0);
        attr(path, "d")
            .unwrap()
            .split("h0")
            .filter(|p| !p.is_empty())
            .map(|piece| {
                let (kind, numbers) = piece.split_at(1);
                let split = numbers
                    .find(' ')
                    .unwrap_or_else(|| numbers.rfind('-').unwrap());
                let (a, b) = numbers.split_at(split);
                let (x, y): (f64, f64) = (a.parse().unwrap(), b.trim().parse().unwrap());
                at = if kind == "M" {
                    (x, y)
                } else {
                    (at.0 + x, at.1 + y)
                };
                at
            })
            .collect()
    }

    fn limits(od: bool) -> Vec<LimitsAt> {
        [10u64, 50, 100, 200, 400]
            .into_iter()
            .map(|n| {
                let half = 2.0 / (n as f64).sqrt() * 0.2;
                LimitsAt {
                    n,
                    limits: FunnelLimits {
                        lower_95: (0.2 - half).max(0.0),
                        upper_95: 0.2 + half,
                        lower_998: (0.2 - 1.5 * half).max(0.0),
                        upper_998: 0.2 + 1.5 * half,
                    },
                    upper_overdispersed: od.then_some(0.2 + 2.0 * half),
                }
            })
            .collect()
    }

    fn chart<'a>(
        points: &'a [FunnelPoint],
        limits: &'a [LimitsAt],
        locale: Locale,
    ) -> FunnelChart<'a> {
        FunnelChart {
            title: "Tỷ lệ bị gây phiền hà",
            description: "Biểu đồ phễu theo cơ quan",
            x_label: "Số phản hồi",
            y_label: "Tỷ lệ",
            baseline: 0.2,
            points,
            limits,
            locale,
        }
    }

    fn sample() -> Vec<FunnelPoint> {
        vec![
            point("Xã A", 40, 0.25, Severity::None),
            point("Xã B", 120, 0.45, Severity::Alarm),
            point("Xã C", 300, 0.26, Severity::Alert),
            point("Xã D", 80, 0.1, Severity::None),
        ]
    }

    #[test]
    fn draws_every_point_and_every_limit() {
        let (pts, lims) = (sample(), limits(true));
        let svg = funnel_svg(&chart(&pts, &lims, Locale::Vi)).into_string();
        accessible(&svg);
        let circles = tags(&svg, "circle");
        assert_eq!(circles.len(), 2, "the flagged points");
        assert_eq!(dots(&svg).len(), 2, "the others");
        let class_count = |c: &str| {
            tags(&svg, "polyline")
                .iter()
                .filter(|t| attr(t, "class") == Some(c))
                .count()
        };
        assert_eq!(class_count("limit-95"), 2);
        assert_eq!(class_count("limit-998"), 2);
        assert_eq!(class_count("limit-od"), 1);
        assert_eq!(
            tags(&svg, "line")
                .iter()
                .filter(|t| attr(t, "class") == Some("baseline"))
                .count(),
            1
        );
        assert!(
            tags(&svg, "polyline")
                .iter()
                .all(|t| attr(t, "class") != Some("limit-95")
                    || attr(t, "stroke-dasharray").is_some())
        );
    }

    #[test]
    fn circles_carry_raw_values_and_flag_classes() {
        let (pts, lims) = (sample(), limits(false));
        let svg = funnel_svg(&chart(&pts, &lims, Locale::En)).into_string();
        let circles = tags(&svg, "circle");
        let mut seen: Vec<(u64, f64)> = circles
            .iter()
            .map(|c| {
                (
                    attr(c, "data-n").unwrap().parse().unwrap(),
                    attr(c, "data-rate").unwrap().parse().unwrap(),
                )
            })
            .collect();
        seen.sort_by_key(|s| s.0);
        assert_eq!(seen, [(120, 0.45), (300, 0.26)]);
        let alarm = circles
            .iter()
            .find(|c| attr(c, "class") == Some("alarm"))
            .unwrap();
        assert_eq!(attr(alarm, "fill"), Some("#b00020"));
        assert_eq!(attr(alarm, "data-n"), Some("120"));
        let alert = circles
            .iter()
            .find(|c| attr(c, "class") == Some("alert"))
            .unwrap();
        assert_eq!(attr(alert, "fill"), Some("#c77700"));
        // The alarm is drawn last, on top.
        assert!(svg.find("class=\"alert\"").unwrap() < svg.find("class=\"alarm\"").unwrap());
        assert!(!svg.contains("limit-od"));
        assert!(svg.contains("<title>Xã B: 45% (120)</title>"));
    }

    #[test]
    fn nothing_in_the_plot_takes_focus_or_a_click() {
        let (pts, lims) = (sample(), limits(true));
        let svg = funnel_svg(&chart(&pts, &lims, Locale::Vi)).into_string();
        assert!(tags(&svg, "a").is_empty());
        assert!(!svg.contains("tabindex") && !svg.contains("href"));
    }

    #[test]
    fn unflagged_dots_sit_where_circles_would() {
        let pts = vec![
            point("A", 40, 0.25, Severity::None),
            point("B", 400, 0.05, Severity::None),
            point("C", 401, 0.05, Severity::None),
        ];
        let lims = limits(false);
        let c = chart(&pts, &lims, Locale::Vi);
        let svg = funnel_svg(&c).into_string();
        let layout = layout(
            &c,
            24.0 + LEGEND_ROW * svg::legend_rows(&legend_items(&c), LEFT, RIGHT) as f64,
        );
        let mut expected: Vec<(f64, f64)> = pts
            .iter()
            .map(|p| {
                let (x, y) = position(p, &layout);
                ((x * 2.0).round() / 2.0, (y * 2.0).round() / 2.0)
            })
            .collect();
        expected.sort_by(|a, b| a.partial_cmp(b).unwrap());
        expected.dedup();
        assert_eq!(dots(&svg), expected);
    }

    #[test]
    fn thousands_of_agencies_stay_small() {
        let pts: Vec<FunnelPoint> = (0..3000u64)
            .map(|i| {
                let n = 50 + (i * 7919) % 900;
                let rate = ((i * 104_729) % 97) as f64 / 1000.0;
                let flag = if i % 300 == 0 {
                    Severity::Alert
                } else {
                    Severity::None
                };
                point(&format!("UBND xã số {i}"), n, rate, flag)
            })
            .collect();
        let lims = limits(true);
        let svg = funnel_svg(&chart(&pts, &lims, Locale::Vi)).into_string();
        accessible(&svg);
        assert_eq!(tags(&svg, "circle").len(), 10);
        assert!(svg.len() < 40_000, "{} bytes", svg.len());
    }

    #[test]
    fn vietnamese_numbers_use_a_decimal_comma() {
        let pts = vec![point("Xã A", 1200, 0.125, Severity::Alert)];
        let mut c = chart(&pts, &[], Locale::Vi);
        c.baseline = 0.1;
        let svg = funnel_svg(&c).into_string();
        assert!(svg.contains("<title>Xã A: 12,5% (1.200)</title>"), "{svg}");
        assert!(svg.contains(">2,5%<"), "{svg}");
        c.locale = Locale::En;
        let svg = funnel_svg(&c).into_string();
        assert!(svg.contains("<title>Xã A: 12.5% (1,200)</title>"));
        assert!(svg.contains(">2.5%<"));
    }

    #[test]
    fn text_is_escaped() {
        let pts = vec![point("<script>alert(1)</script>", 10, 0.3, Severity::Alert)];
        let mut c = chart(&pts, &[], Locale::Vi);
        c.title = "A & B <script>";
        c.description = "\"quoted\" <b>";
        c.y_label = "<y>";
        let svg = funnel_svg(&c).into_string();
        accessible(&svg);
        assert!(!svg.contains("<script"));
        assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(svg.contains("A &amp; B &lt;script&gt;"));
        assert!(svg.contains("&lt;y&gt;"));
    }

    #[test]
    fn output_is_deterministic() {
        let (pts, lims) = (sample(), limits(true));
        let a = funnel_svg(&chart(&pts, &lims, Locale::Vi)).into_string();
        let b = funnel_svg(&chart(&pts.clone(), &lims.clone(), Locale::Vi)).into_string();
        assert_eq!(a, b);
    }

    #[test]
    fn empty_input_says_no_data() {
        let svg = funnel_svg(&chart(&[], &[], Locale::Vi)).into_string();
        accessible(&svg);
        assert!(svg.contains("class=\"no-data\""));
        assert!(svg.contains("Chưa có dữ liệu"));
        assert!(tags(&svg, "circle").is_empty());
        let lims = limits(true);
        let svg = funnel_svg(&chart(&[], &lims, Locale::En)).into_string();
        assert!(svg.contains("No data"));
    }

    #[test]
    fn bad_rates_are_skipped_or_clamped() {
        let pts = vec![
            point("nan", 10, f64::NAN, Severity::None),
            point("inf", 20, f64::INFINITY, Severity::None),
            point("big", 30, 1.7, Severity::Alarm),
            point("neg", 40, -0.2, Severity::None),
        ];
        let mut lims = limits(true);
        lims[0].limits.upper_998 = f64::NAN;
        lims[1].upper_overdispersed = Some(f64::INFINITY);
        lims[2].limits.lower_95 = -3.0;
        let mut c = chart(&pts, &lims, Locale::Vi);
        c.baseline = f64::NAN;
        let svg = funnel_svg(&c).into_string();
        accessible(&svg);
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
        let circles = tags(&svg, "circle");
        assert_eq!(circles.len(), 1);
        assert!(svg.contains("<title>big: 100% (30)</title>"));
        let dots = dots(&svg);
        assert_eq!(dots.len(), 1, "neg, clamped to 0%");
        assert!((0.0..=svg::HEIGHT).contains(&dots[0].1));
        assert!(
            tags(&svg, "line")
                .iter()
                .all(|t| attr(t, "class") != Some("baseline"))
        );
        for c in circles {
            let cy: f64 = attr(c, "cy").unwrap().parse().unwrap();
            assert!((0.0..=svg::HEIGHT).contains(&cy));
        }
        let only_nan = vec![point("nan", 10, f64::NAN, Severity::None)];
        let svg = funnel_svg(&chart(&only_nan, &lims, Locale::Vi)).into_string();
        assert!(svg.contains("no-data"));
    }

    #[test]
    fn axes_cover_the_data() {
        let pts = vec![point("A", 1234, 0.3, Severity::None)];
        let lims = limits(false);
        let layout = layout(&chart(&pts, &lims, Locale::En), 40.0);
        assert_eq!(layout.x_axis.max, 1250.0);
        assert!(layout.y_axis.max >= 100.0 * lims[0].limits.upper_998);
        assert!(layout.y_axis.max <= 100.0);
    }
}
