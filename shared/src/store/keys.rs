//! Key layout and pagination tokens shared by the DynamoDB and in-memory stores, so both order, prefix and
//! page exactly alike.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::StoreError;

pub(crate) const PK: &str = "pk";
pub(crate) const SK: &str = "sk";
pub(crate) const GSI1: &str = "GSI1";
pub(crate) const GSI1PK: &str = "gsi1pk";
pub(crate) const GSI1SK: &str = "gsi1sk";
pub(crate) const ITEM_TYPE: &str = "item_type";
pub(crate) const TTL: &str = "ttl";
pub(crate) const LEASE_RUN_ID: &str = "lease_run_id";
pub(crate) const LEASE_UNTIL: &str = "lease_until";
pub(crate) const LAST_RUN: &str = "last_run";
pub(crate) const CURRENT_NAMES: &str = "current_names";
/// Attributes of a run item that conditional writes name (`Run::status`, `Run::invocations`).
pub(crate) const RUN_STATUS: &str = "status";
pub(crate) const RUN_INVOCATIONS: &str = "invocations";

/// The constant partition of GSI1: every definition, and nothing else.
pub(crate) const GSI1PK_SYNC: &str = "SYNC";
pub(crate) const DEF_SK: &str = "DEF";
pub(crate) const RUN_PREFIX: &str = "RUN#";
pub(crate) const RESULT_PREFIX: &str = "RESULT#";
pub(crate) const DEST_PREFIX: &str = "DEST#";
const SYNC_PREFIX: &str = "SYNC#";

/// Runs (and their results) expire this long after they start (`ttl` attribute).
pub(crate) const RUN_RETENTION_SECS: i64 = 90 * 24 * 60 * 60;

/// `item_type` values, so items are readable in the console.
pub(crate) const TYPE_SYNC: &str = "sync";
pub(crate) const TYPE_RUN: &str = "run";
pub(crate) const TYPE_RESULT: &str = "result";
pub(crate) const TYPE_DEST: &str = "dest";

pub(crate) fn sync_pk(sync_id: &str) -> String {
    format!("{SYNC_PREFIX}{sync_id}")
}

/// GSI1's sort key: the lowercased name then the id, so listings sort by name case-insensitively, then by id.
pub(crate) fn gsi1sk(name: &str, sync_id: &str) -> String {
    format!("{}#{sync_id}", name.to_lowercase())
}

pub(crate) fn run_sk(run_id: &str) -> String {
    format!("{RUN_PREFIX}{run_id}")
}

/// The prefix of every result of one run; the trailing `#` keeps run `R1` from matching run `R10`.
pub(crate) fn result_prefix(run_id: &str) -> String {
    format!("{RESULT_PREFIX}{run_id}#")
}

pub(crate) fn result_sk(run_id: &str, user_id: &str) -> String {
    format!("{}{user_id}", result_prefix(run_id))
}

pub(crate) fn dest_sk(user_id: &str) -> String {
    format!("{DEST_PREFIX}{user_id}")
}

/// Clamps a caller's page size into what a DynamoDB query accepts.
pub(crate) fn page_limit(limit: u32) -> u32 {
    limit.clamp(1, super::MAX_PAGE_LIMIT)
}

/// A DynamoDB primary (and, for GSI1, index) key: every key attribute is a string.
pub(crate) type PageKey = BTreeMap<String, String>;

/// Encodes the key of the last item of a page as an opaque token: base64url (no padding) of its JSON.
pub(crate) fn encode_token(key: &PageKey) -> Result<String, StoreError> {
    let json = serde_json::to_vec(key)
        .map_err(|e| StoreError::Backend(format!("encoding a page token: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

fn decode_token(token: &str) -> Result<PageKey, StoreError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(token.trim())
        .map_err(|_| StoreError::InvalidToken)?;
    serde_json::from_slice(&bytes).map_err(|_| StoreError::InvalidToken)
}

fn has_exactly(key: &PageKey, names: &[&str]) -> bool {
    key.len() == names.len() && names.iter().all(|n| key.contains_key(*n))
}

/// The key of one definition as GSI1 reports it (`LastEvaluatedKey` of a GSI1 query).
pub(crate) fn sync_page_key(sync_id: &str, name: &str) -> PageKey {
    PageKey::from([
        (PK.to_owned(), sync_pk(sync_id)),
        (SK.to_owned(), DEF_SK.to_owned()),
        (GSI1PK.to_owned(), GSI1PK_SYNC.to_owned()),
        (GSI1SK.to_owned(), gsi1sk(name, sync_id)),
    ])
}

/// Decodes a `list_syncs` token: exactly a definition's GSI1 key, self-consistent.
pub(crate) fn decode_sync_token(token: &str) -> Result<PageKey, StoreError> {
    let key = decode_token(token)?;
    if !has_exactly(&key, &[PK, SK, GSI1PK, GSI1SK]) {
        return Err(StoreError::InvalidToken);
    }
    let id = key[PK]
        .strip_prefix(SYNC_PREFIX)
        .filter(|id| !id.is_empty())
        .ok_or(StoreError::InvalidToken)?;
    let consistent =
        key[SK] == DEF_SK && key[GSI1PK] == GSI1PK_SYNC && key[GSI1SK].ends_with(&format!("#{id}"));
    if consistent {
        Ok(key)
    } else {
        Err(StoreError::InvalidToken)
    }
}

/// The table key of one run item.
pub(crate) fn run_page_key(sync_id: &str, run_id: &str) -> PageKey {
    PageKey::from([
        (PK.to_owned(), sync_pk(sync_id)),
        (SK.to_owned(), run_sk(run_id)),
    ])
}

/// Decodes a `list_runs` token: exactly the table key of a run of this very sync.
pub(crate) fn decode_run_token(token: &str, sync_id: &str) -> Result<PageKey, StoreError> {
    let key = decode_token(token)?;
    if has_exactly(&key, &[PK, SK])
        && key[PK] == sync_pk(sync_id)
        && key[SK].len() > RUN_PREFIX.len()
        && key[SK].starts_with(RUN_PREFIX)
    {
        Ok(key)
    } else {
        Err(StoreError::InvalidToken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_tokens_round_trip_and_reject_tampering() {
        let key = sync_page_key("01ABC", "Sales Team");
        let token = encode_token(&key).expect("encode");
        assert_eq!(decode_sync_token(&token).expect("decode"), key);

        let mut other = key.clone();
        other.insert(GSI1SK.to_owned(), "sales team#01XYZ".to_owned());
        let tampered = encode_token(&other).expect("encode");
        assert!(matches!(
            decode_sync_token(&tampered),
            Err(StoreError::InvalidToken)
        ));
        for garbage in ["", "!!!", "bm90IGpzb24", "e30"] {
            assert!(
                matches!(decode_sync_token(garbage), Err(StoreError::InvalidToken)),
                "{garbage:?} accepted"
            );
        }
    }

    #[test]
    fn run_tokens_are_bound_to_their_sync() {
        let token = encode_token(&run_page_key("S1", "R1")).expect("encode");
        assert!(decode_run_token(&token, "S1").is_ok());
        assert!(matches!(
            decode_run_token(&token, "S2"),
            Err(StoreError::InvalidToken)
        ));
        let sync_token = encode_token(&sync_page_key("S1", "n")).expect("encode");
        assert!(matches!(
            decode_run_token(&sync_token, "S1"),
            Err(StoreError::InvalidToken)
        ));
    }

    #[test]
    fn result_prefixes_do_not_overlap_between_runs() {
        assert!(!result_sk("R10", "u1").starts_with(&result_prefix("R1")));
        assert!(result_sk("R1", "u1").starts_with(&result_prefix("R1")));
    }
}
