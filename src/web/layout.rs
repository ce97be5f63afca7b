//! The page shell every HTML page is rendered in.

use maud::{DOCTYPE, Markup, html};

use crate::domain::Lang;

/// The `<head>` of every page: character set, phone viewport, no indexing, the stylesheet.
pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="robots" content="noindex";
            title { (title) }
            link rel="stylesheet" href=(super::assets::css_url());
        }
    }
}

/// A full page: `title` in `<title>` and the body, with a language switch to `switch_to` when given.
pub fn page(lang: Lang, title: &str, switch_to: Option<(&str, &str)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            (head(title))
            body {
                header.top {
                    span.brand { (lang.pick("Khảo sát sự hài lòng", "Satisfaction survey")) }
                    @if let Some((href, label)) = switch_to {
                        span.lang { a href=(href) hreflang=(if lang == Lang::Vi { "en" } else { "vi" }) { (label) } }
                    }
                }
                main { (body) }
            }
        }
    }
}
