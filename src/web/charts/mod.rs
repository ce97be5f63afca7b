//! Server-rendered, accessible SVG charts for the dashboard: the funnel plot of one indicator
//! across agencies and the monthly trend of an index. Pure: markup in, markup out, no I/O.
//!
//! Every chart is a standalone `<svg>` (namespace, `viewBox`, `width="100%"`), has
//! `role="img"` with `aria-labelledby` pointing at its `<title>` and `<desc>`, carries no
//! script, no external resource and no `style=` attribute (the page's CSP forbids inline
//! styles), and is deterministic: the same input gives the same bytes.

mod funnel;
mod svg;
mod trend;

pub use funnel::{FunnelChart, FunnelPoint, LimitsAt, funnel_svg};
pub use trend::{TrendChart, TrendPoint, trend_svg};

/// The language of the numbers and the few built-in words (legend, "no data") in a chart.
///
/// `Vi` writes a decimal comma and a dot between thousands ("12,5%", "1.250"); `En` writes a
/// decimal point and a comma between thousands ("12.5%", "1,250").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Locale {
    #[default]
    Vi,
    En,
}

impl Locale {
    /// The Vietnamese or the English text, whichever this locale is.
    fn pick(self, vi: &'static str, en: &'static str) -> &'static str {
        match self {
            Locale::Vi => vi,
            Locale::En => en,
        }
    }
}
