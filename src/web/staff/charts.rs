//! Feeding report data to the SVG charts: funnel plots of agencies and monthly trends. A funnel
//! plot comes with a table of the agencies that stand out (never all of them: a province may have
//! thousands) and a link to the list of every agency; a trend with the table of its months.

use maud::{Markup, html};

use crate::domain::Lang;
use crate::report::flags::{Assessment, Problem};
use crate::report::numbers::{count, percent, share_text};
use crate::report::{AgencyRow, GroupRow};
use crate::stats::Severity;
use crate::stats::funnel::{
    FunnelScale, Overdispersion, UPPER_998, estimate_overdispersion, exact_limit, exact_limits,
};
use crate::web::charts::{
    FunnelChart, FunnelPoint, LimitsAt, Locale, TrendChart, TrendPoint, funnel_svg, trend_svg,
};

fn locale(lang: Lang) -> Locale {
    match lang {
        Lang::Vi => Locale::Vi,
        Lang::En => Locale::En,
    }
}

/// The assessment of `problem` in an agency's row.
fn assessment(problem: Problem, row: &AgencyRow) -> &Assessment {
    match problem {
        Problem::Harassment => &row.harassment,
        Problem::RepeatVisits => &row.repeat_visits,
    }
}

/// The heading of the funnel plot of `problem`.
fn chart_title(problem: Problem, lang: Lang) -> &'static str {
    match problem {
        Problem::Harassment => lang.pick(
            "Phản ánh phiền hà, sách nhiễu theo số phiếu của từng cơ quan",
            "Harassment reports against each agency's number of responses",
        ),
        Problem::RepeatVisits => lang.pick(
            "Phản ánh phải đi lại nhiều lần theo số phiếu của từng cơ quan",
            "Repeated visits against each agency's number of responses",
        ),
    }
}

/// At most this many agencies in a funnel plot's table; all of them are on the agency list.
pub const TABLE_ROWS: usize = 20;

/// Limits at about 60 sample sizes from 1 to `max_n`, spaced evenly on a square-root scale.
fn limit_samples(max_n: u64, p0: f64, od: Option<&Overdispersion>) -> Vec<LimitsAt> {
    let mut ns: Vec<u64> = (0..=60)
        .map(|i| ((i as f64 / 60.0).powi(2) * max_n as f64).round().max(1.0) as u64)
        .collect();
    ns.dedup();
    ns.into_iter()
        .filter_map(|n| {
            let l = exact_limits(n, p0)?;
            Some(LimitsAt {
                n,
                limits: l,
                upper_overdispersed: od.and_then(|o| o.additive_limit(n, UPPER_998)),
            })
        })
        .collect()
}

/// An agency the funnel plot's table lists: flagged, or above the plot's upper limit.
struct Notable<'a> {
    row: &'a AgencyRow,
    /// The upper limit at its number of answers, when it is above it.
    above: Option<f64>,
}

/// A funnel plot of every agency with answers, flagged agencies marked, and, for readers who
/// cannot see it, a table of the agencies that stand out (flagged or above the upper limit, at
/// most [`TABLE_ROWS`]) with a link to `full_table`, the list of every agency.
pub fn funnel(rows: &[AgencyRow], problem: Problem, full_table: &str, lang: Lang) -> Markup {
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    let answered: Vec<&AgencyRow> = rows
        .iter()
        .filter(|r| assessment(problem, r).n > 0)
        .collect();
    let baseline = answered
        .iter()
        .find_map(|r| assessment(problem, r).province_rate)
        .unwrap_or(0.0);
    let pairs: Vec<(u64, u64)> = answered
        .iter()
        .map(|r| (assessment(problem, r).count, assessment(problem, r).n))
        .collect();
    let max_n = pairs.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let drawable = baseline > 0.0 && baseline < 1.0;
    let od = drawable
        .then(|| estimate_overdispersion(&pairs, baseline, FunnelScale::Anscombe))
        .flatten();
    let limits = if drawable {
        limit_samples(max_n, baseline, od.as_ref())
    } else {
        Vec::new()
    };
    // The upper limit drawn last: overdispersion-adjusted when estimated, else the exact one.
    let upper = |n: u64| {
        od.as_ref()
            .and_then(|o| o.additive_limit(n, UPPER_998))
            .or_else(|| {
                drawable
                    .then(|| exact_limit(n, baseline, UPPER_998))
                    .flatten()
            })
    };
    let mut notable: Vec<Notable<'_>> = answered
        .iter()
        .filter_map(|r| {
            let a = assessment(problem, r);
            let above = upper(a.n).filter(|u| a.rate.is_some_and(|rate| rate > *u));
            (a.flag != Severity::None || above.is_some()).then_some(Notable { row: r, above })
        })
        .collect();
    let excess = |x: &Notable<'_>| {
        let a = assessment(problem, x.row);
        a.rate.unwrap_or(0.0) - x.above.or(a.baseline).unwrap_or(0.0)
    };
    notable.sort_by(|x, y| {
        let (a, b) = (assessment(problem, x.row), assessment(problem, y.row));
        b.flag
            .cmp(&a.flag)
            .then(excess(y).total_cmp(&excess(x)))
            .then_with(|| x.row.code.cmp(&y.row.code))
    });
    let points: Vec<FunnelPoint> = answered
        .iter()
        .map(|r| {
            let a = assessment(problem, r);
            FunnelPoint {
                label: r.name.clone(),
                n: a.n,
                rate: a.rate.unwrap_or(0.0),
                flag: a.flag,
            }
        })
        .collect();
    let flagged = |s: Severity| {
        answered
            .iter()
            .filter(|r| assessment(problem, r).flag == s)
            .count()
    };
    let description = match lang {
        Lang::Vi => format!(
            "Mỗi chấm là một cơ quan ({} cơ quan): trục ngang là số phiếu, trục dọc là tỷ lệ phản ánh. Đường ngang là mức chung của tỉnh ({}); các đường cong là giới hạn 95% và 99,8%. {} cơ quan bị báo động, {} cơ quan được cảnh báo; bảng bên dưới liệt kê các cơ quan nổi bật.",
            count(answered.len() as u64, lang),
            percent(baseline, lang),
            flagged(Severity::Alarm),
            flagged(Severity::Alert)
        ),
        Lang::En => format!(
            "Each dot is an agency ({} agencies): responses across, share reporting the problem up. The horizontal line is the province rate ({}); the curves are the 95% and 99.8% limits. {} agencies in alarm, {} on alert; the table below lists the agencies that stand out.",
            count(answered.len() as u64, lang),
            percent(baseline, lang),
            flagged(Severity::Alarm),
            flagged(Severity::Alert)
        ),
    };
    let chart = FunnelChart {
        title: chart_title(problem, lang),
        description: &description,
        x_label: t("Số phiếu trả lời", "Responses"),
        y_label: t("Tỷ lệ phản ánh", "Share reporting it"),
        baseline,
        points: &points,
        limits: &limits,
        locale: locale(lang),
    };
    let shown = &notable[..notable.len().min(TABLE_ROWS)];
    html! {
        figure.chart {
            figcaption { strong { (chart_title(problem, lang)) } }
            (funnel_svg(&chart))
            details {
                summary {
                    (t("Bảng số liệu: ", "The figures: "))
                    @if notable.is_empty() {
                        (t("không cơ quan nào bị gắn cờ hay nằm trên giới hạn trên", "no agency is flagged or above the upper limit"))
                    } @else {
                        (count(notable.len() as u64, lang)) (t(" cơ quan bị gắn cờ hoặc nằm trên giới hạn trên", " agencies flagged or above the upper limit"))
                    }
                    (t(" (trong ", " (of ")) (count(answered.len() as u64, lang)) (t(" cơ quan)", ")"))
                }
                @if !shown.is_empty() {
                    div.scroll role="region" tabindex="0" aria-label=(chart_title(problem, lang)) { table {
                        thead { tr { th { (t("Cơ quan", "Agency")) } th.num { (t("Phiếu", "Responses")) } th { (t("Tỷ lệ", "Rate")) } th { (t("Ghi chú", "Note")) } } }
                        tbody { @for x in shown { @let a = assessment(problem, x.row); tr {
                            td { a href=(format!("/admin/agencies/{}", x.row.code)) { (x.row.name) } }
                            td.num { (count(a.n, lang)) }
                            td { (share_text(&a.share(), lang)) }
                            td {
                                (match a.flag { Severity::Alarm => t("báo động", "alarm"), Severity::Alert => t("cảnh báo", "alert"), Severity::None => "" })
                                @if let Some(u) = x.above {
                                    @if a.flag != Severity::None { "; " }
                                    (t("trên giới hạn trên ", "above the upper limit ")) (percent(u, lang))
                                }
                            }
                        } } }
                    } }
                }
                p {
                    @if notable.len() > shown.len() {
                        (t("Còn ", "")) (count((notable.len() - shown.len()) as u64, lang)) (t(" cơ quan nữa. ", " more. "))
                    }
                    a href=(full_table) { (t("Bảng đầy đủ mọi cơ quan, xếp theo tỷ lệ này", "Every agency, sorted by this rate")) }
                }
            }
        }
    }
}

/// The monthly SIPAS index with its interval.
pub fn trend(months: &[GroupRow], title: &str, lang: Lang) -> Markup {
    let points: Vec<TrendPoint> = months
        .iter()
        .map(|m| {
            let label = match m.key.split_once('-') {
                Some((year, month)) => format!("{month}/{year}"),
                None => m.key.clone(),
            };
            let s = &m.indicators.sipas;
            let shown = s.displayable;
            TrendPoint {
                label,
                value: s.index.filter(|_| shown),
                low: s.ci_low.filter(|_| shown),
                high: s.ci_high.filter(|_| shown),
            }
        })
        .collect();
    let description = match lang {
        Lang::Vi => format!(
            "Chỉ số SIPAS theo tháng ({} tháng), kèm khoảng tin cậy 95%; số liệu chi tiết ở bảng bên dưới.",
            points.len()
        ),
        Lang::En => format!(
            "SIPAS index by month ({} months) with its 95% interval; the figures are in the table below.",
            points.len()
        ),
    };
    let chart = TrendChart {
        title,
        description: &description,
        y_label: lang.pick("Chỉ số SIPAS", "SIPAS index"),
        points: &points,
        locale: locale(lang),
    };
    html! {
        figure.chart {
            figcaption { strong { (title) } }
            (trend_svg(&chart))
        }
    }
}
