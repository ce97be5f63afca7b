//! Feeding report data to the SVG charts: funnel plots of agencies and monthly trends, each
//! with a table of the same numbers for readers who cannot see the chart.

use maud::{Markup, html};

use crate::domain::Lang;
use crate::report::flags::{Assessment, Problem};
use crate::report::numbers::share_text;
use crate::report::{AgencyRow, GroupRow};
use crate::stats::Severity;
use crate::stats::funnel::{FunnelScale, UPPER_998, estimate_overdispersion, exact_limits};
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

/// Limits at about 60 sample sizes from 1 to `max_n`, spaced evenly on a square-root scale.
fn limit_samples(max_n: u64, p0: f64, pairs: &[(u64, u64)]) -> Vec<LimitsAt> {
    let od = estimate_overdispersion(pairs, p0, FunnelScale::Anscombe);
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
                upper_overdispersed: od.as_ref().and_then(|o| o.additive_limit(n, UPPER_998)),
            })
        })
        .collect()
}

/// A funnel plot of every agency with responses, flagged agencies marked, each dot a link.
pub fn funnel(rows: &[AgencyRow], problem: Problem, lang: Lang) -> Markup {
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
    let limits = if baseline > 0.0 && baseline < 1.0 {
        limit_samples(max_n, baseline, &pairs)
    } else {
        Vec::new()
    };
    let points: Vec<FunnelPoint> = answered
        .iter()
        .map(|r| {
            let a = assessment(problem, r);
            FunnelPoint {
                label: r.name.clone(),
                href: format!("/admin/agencies/{}", r.code),
                n: a.n,
                rate: a.rate.unwrap_or(0.0),
                flag: a.flag,
            }
        })
        .collect();
    let template = t(
        "Mỗi chấm là một cơ quan: trục ngang là số phiếu, trục dọc là tỷ lệ phản ánh. Đường ngang là mức chung của tỉnh ({base}); các đường cong là giới hạn 95% và 99,8%. {alarms} cơ quan bị báo động, {alerts} cơ quan được cảnh báo.",
        "Each dot is an agency: responses across, share reporting the problem up. The horizontal line is the province rate ({base}); the curves are the 95% and 99.8% limits. {alarms} agencies in alarm, {alerts} on alert.",
    );
    let description = template
        .replace("{base}", &crate::report::numbers::percent(baseline, lang))
        .replace(
            "{alarms}",
            &answered
                .iter()
                .filter(|r| assessment(problem, r).flag == Severity::Alarm)
                .count()
                .to_string(),
        )
        .replace(
            "{alerts}",
            &answered
                .iter()
                .filter(|r| assessment(problem, r).flag == Severity::Alert)
                .count()
                .to_string(),
        );
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
    html! {
        figure.chart {
            figcaption { strong { (chart_title(problem, lang)) } }
            (funnel_svg(&chart))
            details {
                summary { (t("Bảng số liệu", "The figures as a table")) }
                div.scroll { table {
                    thead { tr { th { (t("Cơ quan", "Agency")) } th.num { (t("Phiếu", "Responses")) } th { (t("Tỷ lệ", "Rate")) } th { (t("Cờ", "Flag")) } } }
                    tbody { @for r in &answered { @let a = assessment(problem, r); tr {
                        td { a href=(format!("/admin/agencies/{}", r.code)) { (r.name) } }
                        td.num { (a.n) }
                        td { (share_text(&a.share(), lang)) }
                        td { (match a.flag { Severity::Alarm => t("báo động", "alarm"), Severity::Alert => t("cảnh báo", "alert"), Severity::None => "" }) }
                    } } }
                } }
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
