//! Generic pages: errors that are not specific to a feature (bilingual, no request context).

use actix_web::http::StatusCode;
use maud::{Markup, html};

use super::layout::page;
use crate::domain::Lang;

/// The page for a status without a feature-specific page (404, 413, 429, 500, 503…).
pub fn error_page(status: StatusCode) -> Markup {
    let (vi, en) = match status.as_u16() {
        404 => ("Không tìm thấy trang này.", "This page does not exist."),
        400 => (
            "Yêu cầu không hợp lệ: địa chỉ hoặc biểu mẫu có giá trị không đúng (ví dụ một ngày không có thật).",
            "The request is not valid: the address or the form has a wrong value (a date that does not exist, for example).",
        ),
        403 => (
            "Ông/Bà không có quyền xem trang này hoặc thực hiện thao tác này. Nếu cần quyền, xin liên hệ quản trị hệ thống.",
            "You do not have permission for this page or action. Ask the system administrator if you need it.",
        ),
        413 => ("Nội dung gửi lên quá lớn.", "What was sent is too large."),
        429 => (
            "Có quá nhiều yêu cầu từ thiết bị này. Xin thử lại sau ít phút.",
            "Too many requests from this device. Please try again in a few minutes.",
        ),
        503 => (
            "Hệ thống đang bận hoặc tạm gián đoạn. Xin Ông/Bà thử lại sau ít phút (tải lại trang này).",
            "The service is busy or briefly unavailable. Please try again in a few minutes (reload this page).",
        ),
        _ => (
            "Đã có lỗi xảy ra. Xin Ông/Bà thử lại sau.",
            "Something went wrong. Please try again later.",
        ),
    };
    page(
        Lang::Vi,
        vi,
        None,
        html! {
            div.notice {
                p.big aria-hidden="true" { (status.as_u16()) }
                h1 { (vi) }
                p lang="en" { (en) }
            }
        },
    )
}
