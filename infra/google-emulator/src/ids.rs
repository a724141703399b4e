//! Deterministic identifiers and etags: derived from a hash of stable inputs (seed emails, counters), so
//! the same seed and the same requests give the same ids on every run.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0u8]);
    }
    h.finalize().into()
}

/// A 64-bit hash of the parts.
pub(crate) fn hash64(parts: &[&str]) -> u64 {
    let d = digest(parts);
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    u64::from_be_bytes(b)
}

/// A Directory user id: 21 decimal digits, like Google's.
pub(crate) fn user_id(email: &str) -> String {
    // A u64 has at most 20 decimal digits.
    let h = hash64(&["user", &email.to_ascii_lowercase()]);
    format!("1{h:020}")
}

/// A Directory group id: 15 lowercase base-36 characters starting with `0`, like Google's.
pub(crate) fn group_id(email: &str) -> String {
    format!(
        "0{}",
        base36(hash64(&["group", &email.to_ascii_lowercase()]), 14)
    )
}

/// An org unit id, `id:` followed by an opaque token, like Google's.
pub(crate) fn org_unit_id(path: &str) -> String {
    format!("id:03ph8a2z{}", base36(hash64(&["orgunit", path]), 6))
}

/// A member id for an address outside the customer's users and groups.
pub(crate) fn external_member_id(email: &str) -> String {
    hash64(&["external", &email.to_ascii_lowercase()]).to_string()
}

fn base36(mut n: u64, width: usize) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(n % 36) as usize];
        n /= 36;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A Directory etag: a quoted opaque string, like `"\"abc.../def...\""`.
pub(crate) fn directory_etag(parts: &[&str]) -> String {
    let d = digest(parts);
    format!(
        "\"{}/{}\"",
        URL_SAFE_NO_PAD.encode(&d[..20]),
        URL_SAFE_NO_PAD.encode(&d[20..])
    )
}

/// A People API etag (`%Eg...`): opaque, different for every version of a resource.
pub(crate) fn people_etag(parts: &[&str]) -> String {
    format!("%{}", STANDARD_NO_PAD.encode(&digest(parts)[..18]))
}

/// A random-looking but deterministic token for opaque values (page tokens are not derived from this).
pub(crate) fn opaque(parts: &[&str]) -> String {
    URL_SAFE_NO_PAD.encode(&digest(parts)[..24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_deterministic_and_shaped_like_googles() {
        let a = user_id("ana@example.com");
        assert_eq!(a, user_id("ANA@example.com"));
        assert_eq!(a.len(), 21);
        assert!(a.chars().all(|c| c.is_ascii_digit()));
        assert_ne!(a, user_id("ben@example.com"));
        let g = group_id("accounting@example.com");
        assert_eq!(g.len(), 15);
        assert!(org_unit_id("/Sales").starts_with("id:"));
        assert_ne!(people_etag(&["a", "1"]), people_etag(&["a", "2"]));
    }
}
