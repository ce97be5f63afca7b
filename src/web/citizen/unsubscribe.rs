//! `/u/{token}`: a citizen asks for no more survey messages, without signing in. The GET shows a
//! button (a GET never writes, and link scanners in mail systems follow links); the POST opts
//! out, and is also what a mail client's one-click unsubscribe sends (RFC 8058). The pages name
//! no address, agency or dossier; an unknown token is a 404 that counts against the client like
//! an unknown survey link.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};

use super::survey::unknown_link;
use super::views::unknown_link_page;
use super::{PageQuery, language};
use crate::domain::Lang;
use crate::outreach::unsubscribe;
use crate::web::error::AppError;
use crate::web::html::html;
use crate::web::layout::page;
use crate::web::state::AppState;

fn confirm_page(lang: Lang, path: &str) -> Markup {
    page(
        lang,
        lang.pick("Hủy nhận tin nhắn mời khảo sát", "Stop survey invitations"),
        None,
        html! {
            div.notice {
                h1 { (lang.pick("Không nhận thêm tin nhắn mời khảo sát?", "No more survey invitations?")) }
                p { (lang.pick("Sau khi xác nhận, hệ thống khảo sát sự hài lòng sẽ không gửi thêm thư điện tử, tin nhắn SMS hay Zalo mời Ông/Bà đánh giá, ở bất kỳ cơ quan nào.",
                               "Once you confirm, the satisfaction survey will send you no more email, SMS or Zalo invitations, from any office.")) }
                form method="post" action=(format!("{path}?lang={}", lang.tag())) {
                    button type="submit" { (lang.pick("Xác nhận hủy nhận", "Confirm")) }
                }
            }
        },
    )
}

fn done_page(lang: Lang) -> Markup {
    page(
        lang,
        lang.pick("Đã hủy nhận", "Unsubscribed"),
        None,
        html! {
            div.notice {
                h1 { (lang.pick("Ông/Bà sẽ không nhận thêm tin nhắn mời khảo sát", "You will receive no more survey invitations")) }
                p { (lang.pick("Ông/Bà vẫn có thể góp ý bất cứ lúc nào bằng mã QR dán tại Bộ phận một cửa.",
                               "You can still give feedback at any time through the QR code posted at the one-stop desk.")) }
            }
        },
    )
}

/// The hashes a token names, or the answer to an unknown one.
async fn check(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    token: &str,
    lang: Lang,
) -> Result<Result<Vec<String>, HttpResponse>, AppError> {
    match unsubscribe::verify(&state.secret, token) {
        Some(hashes) => Ok(Ok(hashes)),
        None => {
            unknown_link(state, req).await?;
            Ok(Err(html(StatusCode::NOT_FOUND, unknown_link_page(lang))))
        }
    }
}

/// `GET /u/{token}`: the confirmation button.
pub async fn show_unsubscribe(
    req: HttpRequest,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let lang = language(&query);
    Ok(match check(&state, &req, &token, lang).await? {
        Ok(_) => html(StatusCode::OK, confirm_page(lang, &format!("/u/{token}"))),
        Err(page) => page,
    })
}

/// `POST /u/{token}`: opts out (whatever the body: a one-click POST carries
/// `List-Unsubscribe=One-Click`).
pub async fn submit_unsubscribe(
    req: HttpRequest,
    token: web::Path<String>,
    query: web::Query<PageQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let lang = language(&query);
    let hashes = match check(&state, &req, &token, lang).await? {
        Ok(hashes) => hashes,
        Err(page) => return Ok(page),
    };
    let secret = state.secret.clone();
    state
        .write(move |conn| Ok(unsubscribe::opt_out(conn, &secret, &hashes)?))
        .await?;
    Ok(html(StatusCode::OK, done_page(lang)))
}
