//! Domain types whose only constructors parse: languages, levels, channels, codes, tokens.

mod code;
mod kinds;
mod lang;
mod token;

pub use code::Code;
pub use kinds::{Channel, Level};
pub use lang::Lang;
pub use token::{ApiKey, SessionToken, SurveyToken, TokenSecret, new_seed};
