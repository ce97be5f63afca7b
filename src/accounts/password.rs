//! Argon2id password hashing (PHC strings) and the minimum password rule.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// The shortest password accepted.
pub const MIN_LENGTH: usize = 12;

/// Why a password was not hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error(
        "mật khẩu cần ít nhất {MIN_LENGTH} ký tự (a password needs at least {MIN_LENGTH} characters)"
    )]
    TooShort,
    #[error("không băm được mật khẩu (cannot hash the password): {0}")]
    Hash(String),
}

/// Hashes `password` with Argon2id and a random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PasswordError::TooShort);
    }
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| PasswordError::Hash(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// True when `password` matches the stored hash (false for a malformed hash).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the time of one verification without an account, so that the response time of a
/// sign-in does not tell which emails have accounts.
pub fn verify_nothing(password: &str) {
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash("no account has this password").unwrap_or_default());
    let _ = verify(password, &DUMMY);
}

/// A random password for invited users (shown once).
pub fn generate() -> Result<String, getrandom::Error> {
    use base64::Engine;
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_argon2id() -> Result<(), PasswordError> {
        let h = hash("correct horse battery")?;
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong horse battery", &h));
        assert_ne!(h, hash("correct horse battery")?, "salted");
        assert!(matches!(hash("short"), Err(PasswordError::TooShort)));
        verify_nothing("anything at all");
        assert!(!verify("x", "not a hash"));
        Ok(())
    }
}
