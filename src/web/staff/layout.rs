//! The dashboard's page shell: a skip link to the content, navigation for the signed-in user,
//! sign-out form.

use maud::{DOCTYPE, Markup, html};

use super::guard::Viewer;
use crate::accounts::Role;
use crate::web::layout::head;

/// A dashboard page; `viewer` is `None` on the sign-in page.
pub fn page(viewer: Option<&Viewer>, title: &str, body: Markup) -> Markup {
    let lang = viewer.map(Viewer::lang).unwrap_or_default();
    let t = |vi: &'static str, en: &'static str| lang.pick(vi, en);
    html! {
        (DOCTYPE)
        html lang=(lang.tag()) {
            (head(&format!("{title} – sipas")))
            body.dash {
                // The first stop of the keyboard: past the navigation to the page's content.
                a.skip href="#main" { (t("Bỏ qua đến nội dung chính", "Skip to main content")) }
                header.top {
                    span.brand { (t("sipas · Chỉ số hài lòng", "sipas · Satisfaction index")) }
                    @if let Some(v) = viewer {
                        nav aria-label=(t("Điều hướng", "Navigation")) {
                            @if v.role() != Role::AgencyHead { a href="/admin" { (t("Tổng quan", "Overview")) } " " a href="/admin/agencies" { (t("Cơ quan", "Agencies")) } " " }
                            @else { a href="/admin/agencies/me" { (t("Cơ quan của tôi", "My agency")) } " " }
                            a href="/admin/cases" { (t("Theo dõi xử lý", "Follow-up")) }
                            @if v.role() == Role::Admin { " " a href="/admin/catalog" { (t("Danh mục", "Catalog")) } " " a href="/admin/questionnaires" { (t("Phiếu", "Questionnaires")) } " " a href="/admin/mail" { (t("Thư", "Mail")) } " " a href="/admin/users" { (t("Người dùng", "Users")) } }
                            " "
                            form.inline method="post" action="/admin/lang" {
                                input type="hidden" name="csrf" value=(v.0.csrf_token);
                                input type="hidden" name="lang" value=(t("en", "vi"));
                                button.link type="submit" lang=(t("en", "vi")) { (t("English", "Tiếng Việt")) }
                            }
                            " " a href="/admin/password" { (t("Đổi mật khẩu", "Password")) } " "
                            form.inline method="post" action="/admin/logout" {
                                input type="hidden" name="csrf" value=(v.0.csrf_token);
                                button.link type="submit" { (t("Đăng xuất", "Sign out")) " (" (v.0.user.email) ")" }
                            }
                        }
                    }
                }
                main.wide #main tabindex="-1" { (body) }
            }
        }
    }
}

/// The hidden CSRF field every dashboard form carries.
pub fn csrf_field(viewer: &Viewer) -> Markup {
    html! { input type="hidden" name="csrf" value=(viewer.0.csrf_token); }
}
