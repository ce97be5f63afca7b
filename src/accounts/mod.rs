//! Dashboard accounts: users and roles, Argon2id passwords, sessions, sign-in throttling and the
//! audit log. Pure storage and rules; the web side is `crate::web::staff`.

pub mod audit;
pub mod password;
pub mod sessions;
pub mod throttle;
pub mod users;

use std::fmt;

/// What a user may do.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum Role {
    /// The reform office: everything, including users and the catalog.
    Admin,
    /// Reads everything and works on flags.
    Reviewer,
    /// Their own agency and the agencies under it, read-only, aggregates only.
    AgencyHead,
}

impl Role {
    /// Parses the stored code.
    pub fn parse(s: &str) -> Option<Role> {
        match s.trim() {
            "admin" => Some(Role::Admin),
            "reviewer" => Some(Role::Reviewer),
            "agency_head" => Some(Role::AgencyHead),
            _ => None,
        }
    }

    /// The stored code.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Reviewer => "reviewer",
            Role::AgencyHead => "agency_head",
        }
    }

    /// The Vietnamese name shown in the dashboard.
    pub fn label(self) -> &'static str {
        match self {
            Role::Admin => "Quản trị (cơ quan cải cách hành chính)",
            Role::Reviewer => "Chuyên viên theo dõi",
            Role::AgencyHead => "Thủ trưởng cơ quan",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

crate::text_column!(Role, "role");
