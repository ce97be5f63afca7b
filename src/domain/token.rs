//! Survey tokens and API keys: unguessable, and only their SHA-256 hashes are stored.
//!
//! A survey token is derived from the server secret and a random per-invitation seed with
//! HMAC-SHA-256, so re-reporting a dossier can return the same link without the token being
//! stored anywhere: the database keeps the seed and the token's hash, and without the secret a
//! copy of the database yields no working link.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The server secret tokens are derived from.
#[derive(Clone)]
pub struct TokenSecret(Vec<u8>);

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecret(***)")
    }
}

impl TokenSecret {
    /// Wraps a configured secret.
    pub fn new(secret: &[u8]) -> TokenSecret {
        TokenSecret(secret.to_vec())
    }

    /// A keyed hash (HMAC-SHA-256, 128 bits in hex) of `value` in `scope`: the same value always
    /// gives the same pseudonym, which cannot be turned back into the value without the secret.
    /// Used for what rate limits count (client addresses, emails) so that none is stored.
    pub fn pseudonym(&self, scope: &str, value: &str) -> String {
        let tag = match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mut mac) => {
                mac.update(scope.as_bytes());
                mac.update(&[0]);
                mac.update(value.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Sha256::digest([&self.0, scope.as_bytes(), &[0], value.as_bytes()].concat())
                .to_vec(),
        };
        tag[..16].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A fresh random secret, encoded for a key file.
    pub fn generate() -> Result<String, getrandom::Error> {
        Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
    }
}

/// A single-use survey token (128 bits, URL-safe base64, 22 characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyToken(String);

impl SurveyToken {
    /// Derives the token of the invitation with this seed.
    pub fn derive(secret: &TokenSecret, seed: &str) -> SurveyToken {
        // HMAC accepts keys of any length, so this cannot fail; fall back to hashing if it ever did.
        let tag = match Hmac::<Sha256>::new_from_slice(&secret.0) {
            Ok(mut mac) => {
                mac.update(seed.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Sha256::digest([secret.0.as_slice(), seed.as_bytes()].concat()).to_vec(),
        };
        SurveyToken(URL_SAFE_NO_PAD.encode(&tag[..16]))
    }

    /// Parses a token from a URL: exactly 22 URL-safe base64 characters.
    pub fn parse(s: &str) -> Option<SurveyToken> {
        let ok = s.len() == 22
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| SurveyToken(s.to_owned()))
    }

    /// The token as it appears in URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stored hash.
    pub fn hash(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }
}

/// A fresh random invitation seed (128 bits).
pub fn new_seed() -> Result<String, getrandom::Error> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<16>()?))
}

/// An API key: `sipas_` followed by 256 random bits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A fresh random key.
    pub fn generate() -> Result<ApiKey, getrandom::Error> {
        Ok(ApiKey(format!(
            "sipas_{}",
            URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
        )))
    }

    /// Parses a presented key (from `Authorization: Bearer`).
    pub fn parse(s: &str) -> Option<ApiKey> {
        let s = s.trim();
        let ok = s.starts_with("sipas_")
            && s.len() == 49
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| ApiKey(s.to_owned()))
    }

    /// The key as text (shown once, at creation).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stored hash.
    pub fn hash(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }

    /// The first characters, stored to tell keys apart in listings.
    pub fn prefix(&self) -> &str {
        &self.0[..12]
    }
}

/// A dashboard session cookie value (256 bits); only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A fresh random value.
    pub fn generate() -> Result<SessionToken, getrandom::Error> {
        Ok(SessionToken(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)))
    }

    /// Parses a cookie value: exactly 43 URL-safe base64 characters.
    pub fn parse(s: &str) -> Option<SessionToken> {
        let ok = s.len() == 43
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        ok.then(|| SessionToken(s.to_owned()))
    }

    /// The value as sent in the cookie.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The stored hash.
    pub fn hash(&self) -> String {
        sha256_hex(self.0.as_bytes())
    }
}

fn random_bytes<const N: usize>() -> Result<[u8; N], getrandom::Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_derived_deterministically_and_parse_back() -> Result<(), getrandom::Error> {
        let secret = TokenSecret::new(b"0123456789abcdef0123456789abcdef");
        let seed = new_seed()?;
        let a = SurveyToken::derive(&secret, &seed);
        assert_eq!(a, SurveyToken::derive(&secret, &seed));
        assert_ne!(a, SurveyToken::derive(&secret, &new_seed()?));
        assert_ne!(a, SurveyToken::derive(&TokenSecret::new(b"other"), &seed));
        assert_eq!(SurveyToken::parse(a.as_str()), Some(a.clone()));
        assert_eq!(a.hash().len(), 64);
        assert!(SurveyToken::parse("../../etc/passwd").is_none());
        assert!(SurveyToken::parse("short").is_none());
        Ok(())
    }

    #[test]
    fn api_keys_parse_and_hash() -> Result<(), getrandom::Error> {
        let key = ApiKey::generate()?;
        assert_eq!(ApiKey::parse(key.as_str()), Some(key.clone()));
        assert_ne!(key.hash(), ApiKey::generate()?.hash());
        assert!(ApiKey::parse("sipas_short").is_none());
        Ok(())
    }
}
