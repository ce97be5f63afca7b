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

/// How a page offers the other language.
pub enum Switch<'a> {
    /// A link (`href`, label).
    Link(&'a str, &'a str),
    /// A link to the page's own language button (`#{anchor}`, label): that button, at the end
    /// of the form, submits it with `switch_lang` so that the answers already given come back in
    /// the other language. (A submit button up here would become the form's default button, and
    /// pressing Enter in a field would switch the language.)
    Within { anchor: &'a str, label: &'a str },
}

/// A full page: `title` in `<title>` and the body, with a language switch when given.
pub fn page(lang: Lang, title: &str, switch_to: Option<Switch<'_>>, body: Markup) -> Markup {
    let other = if lang == Lang::Vi { Lang::En } else { Lang::Vi };
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            (head(title))
            body {
                header.top {
                    span.brand { (lang.pick("Khảo sát sự hài lòng", "Satisfaction survey")) }
                    @match switch_to {
                        Some(Switch::Link(href, label)) => span.lang { a href=(href) hreflang=(other.tag()) { (label) } },
                        Some(Switch::Within { anchor, label }) => span.lang { a href=(format!("#{anchor}")) hreflang=(other.tag()) { (label) } },
                        None => {},
                    }
                }
                main { (body) }
            }
        }
    }
}
