//! The citizen's side: the questionnaire by invitation link (`/s/{token}`) and by agency poster
//! (`/k/{agency}`, the unverified walk-in channel).

pub mod ratelimit;
pub mod routes;
mod submission;
pub mod views;
