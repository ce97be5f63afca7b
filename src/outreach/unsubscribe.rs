//! The opt-out link a citizen's message carries (`/u/{token}`): it works without signing in and
//! names no one. The token holds the keyed hashes of the citizen's addresses (which cannot be
//! turned back into addresses) and a tag computed with the installation's secret over them, so it
//! cannot be forged or guessed for someone else's address; opting out marks those hashes, erases
//! at once every stored address of a dossier whose citizen has one of them (with the messages
//! still waiting), and no message goes to them again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;

use super::Contact;
use crate::db::DbConn;
use crate::db::schema::{contact_hashes, outreach};
use crate::domain::TokenSecret;

const SCOPE: &str = "outreach-unsubscribe";
/// Bytes of one address hash, and of the tag.
const HASH: usize = 16;

fn hex_bytes(hex: &str) -> Option<Vec<u8>> {
    hex.len()
        .is_multiple_of(2)
        .then(|| {
            (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
                .collect::<Option<Vec<u8>>>()
        })
        .flatten()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn tag(secret: &TokenSecret, payload: &[u8]) -> Vec<u8> {
    hex_bytes(&secret.pseudonym(SCOPE, &hex(payload))).unwrap_or_default()
}

/// The token for a contact's address hashes (one or two).
pub fn token(secret: &TokenSecret, hashes: &[String]) -> String {
    let mut payload: Vec<u8> = hashes
        .iter()
        .filter_map(|h| hex_bytes(h))
        .flatten()
        .collect();
    let t = tag(secret, &payload);
    payload.extend(t);
    URL_SAFE_NO_PAD.encode(payload)
}

/// The address hashes a genuine token names; `None` for anything else.
pub fn verify(secret: &TokenSecret, token: &str) -> Option<Vec<String>> {
    if token.len() > 128 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let hashes = bytes.len().checked_sub(HASH)? / HASH;
    if !(1..=2).contains(&hashes) || bytes.len() != (hashes + 1) * HASH {
        return None;
    }
    let (payload, given) = bytes.split_at(hashes * HASH);
    let expected = tag(secret, payload);
    // Constant time: the comparison says nothing about how close a forgery was.
    let same = expected.len() == given.len()
        && expected
            .iter()
            .zip(given)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then(|| payload.chunks(HASH).map(hex).collect())
}

/// Marks the hashes opted out and settles every outreach row whose addresses hash to one of
/// them: addresses erased, reminder and waiting messages dropped (idempotent).
pub fn opt_out(conn: &mut DbConn, secret: &TokenSecret, hashes: &[String]) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        for hash in hashes {
            crate::on_backend!(conn, c => diesel::insert_into(contact_hashes::table)
                .values((contact_hashes::hash.eq(hash), contact_hashes::opted_out.eq(true)))
                .on_conflict(contact_hashes::hash)
                .do_update()
                .set(contact_hashes::opted_out.eq(true))
                .execute(c))?;
        }
        // Only the rows of links still open keep addresses: few enough to hash each.
        let kept: Vec<(i64, Option<String>, Option<String>)> = outreach::table
            .filter(
                outreach::email
                    .is_not_null()
                    .or(outreach::phone.is_not_null()),
            )
            .select((outreach::id, outreach::email, outreach::phone))
            .load(conn)?;
        for (id, email, phone) in kept {
            let contact = Contact { email, phone };
            if contact.hashes(secret).iter().any(|h| hashes.contains(h)) {
                super::deliver::settle(conn, id)?;
            }
        }
        Ok(())
    })
}

/// True when any of the hashes opted out.
pub fn opted_out(conn: &mut DbConn, hashes: &[String]) -> QueryResult<bool> {
    let n: i64 = contact_hashes::table
        .filter(contact_hashes::hash.eq_any(hashes))
        .filter(contact_hashes::opted_out.eq(true))
        .count()
        .get_result(conn)?;
    Ok(n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outreach::Contact;

    #[test]
    fn tokens_verify_only_as_issued() {
        let secret = TokenSecret::new(b"0123456789abcdef0123456789abcdef");
        let contact = Contact {
            email: Some("dan@example.vn".into()),
            phone: Some("84912345678".into()),
        };
        let hashes = contact.hashes(&secret);
        let t = token(&secret, &hashes);
        assert_eq!(verify(&secret, &t), Some(hashes.clone()));
        assert!(!t.contains("example") && !t.contains("912345678"));
        // Another installation's secret, a changed byte, a truncated token: refused.
        assert_eq!(
            verify(&TokenSecret::new(b"another-secret-another-secret-xx"), &t),
            None
        );
        let mut bytes = URL_SAFE_NO_PAD.decode(&t).unwrap_or_default();
        bytes[0] ^= 1;
        assert_eq!(verify(&secret, &URL_SAFE_NO_PAD.encode(&bytes)), None);
        assert_eq!(verify(&secret, &t[..t.len() - 3]), None);
        assert_eq!(verify(&secret, "not a token"), None);
        let one = token(&secret, &hashes[..1]);
        assert_eq!(verify(&secret, &one), Some(hashes[..1].to_vec()));
    }
}
