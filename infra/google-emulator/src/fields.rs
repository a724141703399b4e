//! Partial responses: the standard `fields` parameter (`fields=nextPageToken,connections(names,emailAddresses/value)`).

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed `fields` selector: each selected name either takes the whole value or a sub-selection.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selector(BTreeMap<String, Option<Selector>>);

/// Parses a `fields` value. `Err` carries Google's message for a malformed selector.
pub(crate) fn parse(fields: &str) -> Result<Selector, String> {
    let chars: Vec<char> = fields.chars().filter(|c| !c.is_whitespace()).collect();
    let mut pos = 0;
    let selector = parse_list(&chars, &mut pos)?;
    if pos != chars.len() {
        return Err(format!("Invalid field selection {fields}"));
    }
    Ok(selector)
}

fn parse_list(chars: &[char], pos: &mut usize) -> Result<Selector, String> {
    let mut out = Selector(BTreeMap::new());
    loop {
        let mut path = Vec::new();
        loop {
            let start = *pos;
            while *pos < chars.len() && !matches!(chars[*pos], ',' | '/' | '(' | ')') {
                *pos += 1;
            }
            if start == *pos {
                return Err("Invalid field selection: empty field name".into());
            }
            path.push(chars[start..*pos].iter().collect::<String>());
            if *pos < chars.len() && chars[*pos] == '/' {
                *pos += 1;
            } else {
                break;
            }
        }
        let sub = if *pos < chars.len() && chars[*pos] == '(' {
            *pos += 1;
            let sub = parse_list(chars, pos)?;
            if *pos >= chars.len() || chars[*pos] != ')' {
                return Err("Invalid field selection: unbalanced parentheses".into());
            }
            *pos += 1;
            Some(sub)
        } else {
            None
        };
        out.insert_path(&path, sub);
        if *pos < chars.len() && chars[*pos] == ',' {
            *pos += 1;
            continue;
        }
        return Ok(out);
    }
}

impl Selector {
    fn insert_path(&mut self, path: &[String], leaf: Option<Selector>) {
        let Some((first, rest)) = path.split_first() else {
            return;
        };
        if rest.is_empty() {
            match (self.0.get_mut(first), leaf) {
                // Already selected whole: stays whole.
                (Some(None), _) => {}
                (Some(Some(existing)), Some(new)) => existing.merge(new),
                (Some(slot), None) => *slot = None,
                (None, leaf) => {
                    self.0.insert(first.clone(), leaf);
                }
            }
            return;
        }
        let entry = self
            .0
            .entry(first.clone())
            .or_insert_with(|| Some(Selector(BTreeMap::new())));
        if let Some(sub) = entry {
            sub.insert_path(rest, leaf);
        }
    }

    fn merge(&mut self, other: Selector) {
        for (k, v) in other.0 {
            let path = [k];
            self.insert_path(&path, v);
        }
    }

    /// Keeps only the selected parts of a response.
    pub fn apply(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                let wildcard = self.0.get("*");
                map.retain(|k, _| self.0.contains_key(k) || wildcard.is_some());
                for (k, v) in map.iter_mut() {
                    let sub = match self.0.get(k) {
                        Some(sub) => sub,
                        None => wildcard.unwrap_or(&None),
                    };
                    if let Some(sub) = sub {
                        sub.apply(v);
                    }
                }
            }
            Value::Array(items) => {
                for v in items {
                    self.apply(v);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_nested_fields_through_arrays() {
        let sel = parse("nextPageToken,connections(resourceName,names/givenName)").expect("parses");
        let mut v = json!({
            "nextPageToken": "t", "totalItems": 3,
            "connections": [{"resourceName": "people/c1", "etag": "e", "names": [{"givenName": "A", "familyName": "B"}]}]
        });
        sel.apply(&mut v);
        assert_eq!(
            v,
            json!({"nextPageToken": "t", "connections": [{"resourceName": "people/c1", "names": [{"givenName": "A"}]}]})
        );
    }

    #[test]
    fn wildcard_and_errors() {
        let sel = parse("users(*)").expect("parses");
        let mut v = json!({"kind": "k", "users": [{"id": "1"}]});
        sel.apply(&mut v);
        assert_eq!(v, json!({"users": [{"id": "1"}]}));
        assert!(parse("a(b").is_err());
        assert!(parse("a,,b").is_err());
    }
}
