//! Normalisation of a contact's copyable fields and its content hash.
//!
//! For each of [`COPYABLE_PERSON_FIELDS`] only the subfields a client may write are kept (the read-only
//! `metadata`, `formattedType`, `canonicalForm`, `displayName` of names, ... are dropped, as listed as "Output only"
//! in people.v1.json), values equal to proto3 defaults (`""`, `0`, `false`, empty objects and lists) and enum
//! defaults Google fills in on write are dropped, and entries left empty are removed. Object keys are emitted in
//! sorted order and list order is kept, so the hash of what we read from the source equals the hash of what we read
//! back from a destination after writing it: no fake updates from formatting differences.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::google::{COPYABLE_PERSON_FIELDS, Person};

const NAME_FIELDS: &[&str] = &[
    "familyName",
    "givenName",
    "honorificPrefix",
    "honorificSuffix",
    "middleName",
    "phoneticFamilyName",
    "phoneticFullName",
    "phoneticGivenName",
    "phoneticHonorificPrefix",
    "phoneticHonorificSuffix",
    "phoneticMiddleName",
    "unstructuredName",
];
const EMAIL_FIELDS: &[&str] = &["displayName", "type", "value"];
const TYPE_VALUE_FIELDS: &[&str] = &["type", "value"];
const ORGANIZATION_FIELDS: &[&str] = &[
    "costCenter",
    "current",
    "department",
    "domain",
    "endDate",
    "fullTimeEquivalentMillipercent",
    "jobDescription",
    "location",
    "name",
    "phoneticName",
    "startDate",
    "symbol",
    "title",
    "type",
];
const ADDRESS_FIELDS: &[&str] = &[
    "city",
    "country",
    "countryCode",
    "extendedAddress",
    "formattedValue",
    "poBox",
    "postalCode",
    "region",
    "streetAddress",
    "type",
];
const BIOGRAPHY_FIELDS: &[&str] = &["contentType", "value"];
const BIRTHDAY_FIELDS: &[&str] = &["date", "text"];
const EVENT_FIELDS: &[&str] = &["date", "type"];
const RELATION_FIELDS: &[&str] = &["person", "type"];
const USER_DEFINED_FIELDS: &[&str] = &["key", "value"];
const NO_FIELDS: &[&str] = &[];

/// The subfields of a copyable Person field that a client may write (everything else is output only).
pub fn writable_subfields(field: &str) -> &'static [&'static str] {
    match field {
        "names" => NAME_FIELDS,
        "emailAddresses" => EMAIL_FIELDS,
        "phoneNumbers" | "urls" | "nicknames" => TYPE_VALUE_FIELDS,
        "organizations" => ORGANIZATION_FIELDS,
        "addresses" => ADDRESS_FIELDS,
        "biographies" => BIOGRAPHY_FIELDS,
        "birthdays" => BIRTHDAY_FIELDS,
        "events" => EVENT_FIELDS,
        "relations" => RELATION_FIELDS,
        "userDefined" => USER_DEFINED_FIELDS,
        _ => NO_FIELDS,
    }
}

/// Enum values Google fills in when a client leaves the subfield unset: treated as unset.
fn is_enum_default(field: &str, subfield: &str, value: &Value) -> bool {
    let Some(s) = value.as_str() else {
        return false;
    };
    match (field, subfield) {
        ("biographies", "contentType") => s == "TEXT_PLAIN" || s == "CONTENT_TYPE_UNSPECIFIED",
        ("nicknames", "type") => s == "DEFAULT",
        _ => false,
    }
}

/// A contact's copyable fields, normalised, with their content hash.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalizedContact {
    /// Copyable field name -> list of entries with writable subfields only; absent fields are empty.
    pub fields: BTreeMap<String, Value>,
    /// Hex SHA-256 of the canonical JSON of `fields`.
    pub hash: String,
}

/// Normalises `person`'s copyable fields and hashes them.
pub fn normalize(person: &Person) -> NormalizedContact {
    let fields = normalize_fields(person);
    let hash = content_hash(&fields);
    NormalizedContact { fields, hash }
}

/// Only the writable, non-empty parts of `person`'s copyable fields.
pub fn normalize_fields(person: &Person) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for field in COPYABLE_PERSON_FIELDS {
        let Some(Value::Array(entries)) = person.fields.get(*field) else {
            continue;
        };
        let allowed = writable_subfields(field);
        let kept: Vec<Value> = entries
            .iter()
            .filter_map(|entry| normalize_entry(field, allowed, entry))
            .collect();
        if !kept.is_empty() {
            out.insert((*field).to_owned(), Value::Array(kept));
        }
    }
    out
}

fn normalize_entry(field: &str, allowed: &[&str], entry: &Value) -> Option<Value> {
    let Value::Object(object) = entry else {
        return None;
    };
    let mut kept = Map::new();
    for (key, value) in object {
        if !allowed.contains(&key.as_str()) || is_enum_default(field, key, value) {
            continue;
        }
        if let Some(clean) = strip_defaults(value) {
            kept.insert(key.clone(), clean);
        }
    }
    (!kept.is_empty()).then_some(Value::Object(kept))
}

/// Drops proto3 default values (which Google omits on read) recursively; `None` if nothing is left.
fn strip_defaults(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Bool(b) => b.then_some(Value::Bool(true)),
        Value::Number(n) => {
            let zero = n.as_i64() == Some(0) || n.as_u64() == Some(0) || n.as_f64() == Some(0.0);
            (!zero).then(|| value.clone())
        }
        Value::String(s) => (!s.is_empty()).then(|| value.clone()),
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(strip_defaults).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        Value::Object(object) => {
            let kept: Map<String, Value> = object
                .iter()
                .filter_map(|(k, v)| strip_defaults(v).map(|v| (k.clone(), v)))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
    }
}

/// Hex SHA-256 of the canonical JSON (sorted object keys, no whitespace) of normalised fields.
pub fn content_hash(fields: &BTreeMap<String, Value>) -> String {
    let mut canonical = String::new();
    canonical.push('{');
    for (i, (key, value)) in fields.iter().enumerate() {
        if i > 0 {
            canonical.push(',');
        }
        write_string(&mut canonical, key);
        canonical.push(':');
        write_canonical(&mut canonical, value);
    }
    canonical.push('}');
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// Writes JSON with object keys in sorted order, whatever the map's own iteration order.
fn write_canonical(out: &mut String, value: &Value) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(out, item);
            }
            out.push(']');
        }
        Value::Object(object) => {
            let mut keys: Vec<&String> = object.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, key);
                out.push(':');
                if let Some(v) = object.get(key) {
                    write_canonical(out, v);
                }
            }
            out.push('}');
        }
        Value::String(s) => write_string(out, s),
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push_str(&Value::String(s.to_owned()).to_string());
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn person(value: Value) -> Person {
        serde_json::from_value(value).expect("valid person")
    }

    /// A contact as Google returns it from a read: metadata, output-only subfields, computed values.
    fn source_as_read() -> Person {
        person(json!({
            "resourceName": "people/c1",
            "etag": "%EgUBAi43PRoEAQIFByIMR0x",
            "metadata": {"sources": [{"type": "CONTACT", "id": "1"}]},
            "names": [{
                "metadata": {"primary": true, "source": {"type": "CONTACT", "id": "1"}},
                "displayName": "Ada Lovelace",
                "displayNameLastFirst": "Lovelace, Ada",
                "givenName": "Ada",
                "familyName": "Lovelace",
                "unstructuredName": "Ada Lovelace"
            }],
            "emailAddresses": [
                {"metadata": {"primary": true}, "value": "ada@example.com", "type": "work", "formattedType": "Work"},
                {"value": "ada@home.example", "type": "", "displayName": ""}
            ],
            "phoneNumbers": [{"value": "+44 20 7946 0000", "canonicalForm": "+442079460000", "type": "mobile", "formattedType": "Mobile"}],
            "organizations": [{"name": "Analytical Engines", "title": "Programmer", "current": true, "formattedType": "Work", "type": "work"}],
            "addresses": [{"streetAddress": "12 St James's Sq", "city": "London", "formattedValue": "12 St James's Sq\nLondon", "formattedType": "Home", "type": "home"}],
            "biographies": [{"value": "First programmer", "contentType": "TEXT_PLAIN"}],
            "urls": [{"value": "https://example.com/ada", "type": "homePage", "formattedType": "Home Page"}],
            "birthdays": [{"date": {"year": 1815, "month": 12, "day": 10}, "metadata": {"primary": true}}],
            "events": [{"date": {"month": 11, "day": 27, "year": 0}, "type": "anniversary", "formattedType": "Anniversary"}],
            "relations": [{"person": "Charles Babbage", "type": "manager", "formattedType": "Manager"}],
            "nicknames": [{"value": "Enchantress of Numbers", "type": "DEFAULT"}],
            "userDefined": [{"key": "team", "value": "engines"}],
            "photos": [{"url": "https://example.com/p.jpg"}],
            "memberships": [{"contactGroupMembership": {"contactGroupResourceName": "contactGroups/abc"}}],
            "clientData": [{"key": "x", "value": "y"}]
        }))
    }

    #[test]
    fn keeps_only_writable_non_empty_subfields() {
        let fields = normalize_fields(&source_as_read());
        assert_eq!(
            Value::Object(fields.clone().into_iter().collect()),
            json!({
                "names": [{"givenName": "Ada", "familyName": "Lovelace", "unstructuredName": "Ada Lovelace"}],
                "emailAddresses": [{"value": "ada@example.com", "type": "work"}, {"value": "ada@home.example"}],
                "phoneNumbers": [{"value": "+44 20 7946 0000", "type": "mobile"}],
                "organizations": [{"name": "Analytical Engines", "title": "Programmer", "current": true, "type": "work"}],
                "addresses": [{"streetAddress": "12 St James's Sq", "city": "London", "formattedValue": "12 St James's Sq\nLondon", "type": "home"}],
                "biographies": [{"value": "First programmer"}],
                "urls": [{"value": "https://example.com/ada", "type": "homePage"}],
                "birthdays": [{"date": {"year": 1815, "month": 12, "day": 10}}],
                "events": [{"date": {"month": 11, "day": 27}, "type": "anniversary"}],
                "relations": [{"person": "Charles Babbage", "type": "manager"}],
                "nicknames": [{"value": "Enchantress of Numbers"}],
                "userDefined": [{"key": "team", "value": "engines"}]
            })
        );
        assert!(!fields.contains_key("photos"));
    }

    #[test]
    fn read_back_of_what_we_wrote_hashes_equal() {
        let source = normalize(&source_as_read());
        // What we send: exactly the normalised fields.
        let written = Person {
            fields: source.fields.clone(),
            ..Person::default()
        };
        let sent = serde_json::to_value(&written).expect("serialise");
        // What Google gives back: our fields plus metadata, output-only subfields and defaults, keys reordered.
        let mut read_back = sent.clone();
        let obj = read_back.as_object_mut().expect("object");
        obj.insert("resourceName".into(), json!("people/c99"));
        obj.insert("etag".into(), json!("%other"));
        obj.insert("metadata".into(), json!({"sources": [{"type": "CONTACT"}]}));
        for (_, entries) in obj.iter_mut() {
            if let Some(list) = entries.as_array_mut() {
                for entry in list {
                    if let Some(e) = entry.as_object_mut() {
                        e.insert("metadata".into(), json!({"source": {"type": "CONTACT"}}));
                        e.insert("formattedType".into(), json!("Whatever"));
                    }
                }
            }
        }
        obj["biographies"][0]["contentType"] = json!("TEXT_PLAIN");
        obj["names"][0]["displayName"] = json!("Ada Lovelace");
        obj["organizations"][0]["current"] = json!(true);
        let read_back: Person = serde_json::from_value(read_back).expect("person");
        assert_eq!(normalize(&read_back).hash, source.hash);
    }

    #[test]
    fn hash_ignores_key_order_but_not_list_order_or_values() {
        let a = person(json!({"names": [{"givenName": "A", "familyName": "B"}]}));
        let b = person(json!({"names": [{"familyName": "B", "givenName": "A"}]}));
        assert_eq!(normalize(&a).hash, normalize(&b).hash);

        let c = person(json!({"names": [{"givenName": "A", "familyName": "C"}]}));
        assert_ne!(normalize(&a).hash, normalize(&c).hash);

        let d = person(json!({"emailAddresses": [{"value": "1@x"}, {"value": "2@x"}]}));
        let e = person(json!({"emailAddresses": [{"value": "2@x"}, {"value": "1@x"}]}));
        assert_ne!(normalize(&d).hash, normalize(&e).hash);
    }

    #[test]
    fn empty_and_output_only_entries_disappear() {
        let p = person(json!({
            "names": [{"displayName": "Only output", "metadata": {"primary": true}}],
            "phoneNumbers": [],
            "urls": [{"value": ""}]
        }));
        assert!(normalize_fields(&p).is_empty());
        assert_eq!(normalize(&p).hash, normalize(&Person::default()).hash);
    }

    /// The whitelist agrees with Google's discovery document: every subfield not marked "Output only" (except
    /// the field metadata, which is Google's) is writable and kept; every output-only one is dropped.
    #[test]
    fn writable_subfields_match_the_discovery_document() {
        use google_emulator::discovery::{Api, discovery};
        let schemas = &discovery().document(Api::People)["schemas"];
        for field in COPYABLE_PERSON_FIELDS {
            let item = schemas["Person"]["properties"][*field]["items"]["$ref"]
                .as_str()
                .expect("item schema");
            let props = schemas[item]["properties"].as_object().expect("properties");
            let mut expected: Vec<&str> = props
                .iter()
                .filter(|(k, v)| {
                    k.as_str() != "metadata"
                        && !v["description"]
                            .as_str()
                            .unwrap_or_default()
                            .starts_with("Output only")
                })
                .map(|(k, _)| k.as_str())
                .collect();
            expected.sort_unstable();
            let mut ours = writable_subfields(field).to_vec();
            ours.sort_unstable();
            assert_eq!(ours, expected, "writable subfields of {field}");
        }
    }
}
