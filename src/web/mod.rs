//! Shared web pieces: the page shell, static assets, and generic error pages.

pub mod assets;
pub mod form;
pub mod layout;
pub mod pages;
