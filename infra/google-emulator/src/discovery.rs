//! Google's discovery documents, embedded: the source of every method's HTTP method, path, parameters and
//! scopes, and of the schemas request bodies are validated against (and responses checked against in tests).

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::error::ApiError;

const PEOPLE_JSON: &str = include_str!("../tests/fixtures/google-discovery/people.v1.json");
const DIRECTORY_JSON: &str =
    include_str!("../tests/fixtures/google-discovery/admin.directory_v1.json");

/// Which of the two discovery documents a method or schema belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Api {
    People,
    Directory,
}

impl Api {
    /// The API a discovery method id (`people.people.get`, `directory.users.list`) belongs to.
    pub fn of_method(method_id: &str) -> Api {
        if method_id.starts_with("directory.") {
            Api::Directory
        } else {
            Api::People
        }
    }
}

/// Both discovery documents, parsed once, with an index of their methods by id.
pub struct Discovery {
    people: Value,
    directory: Value,
    methods: HashMap<String, (Api, Value)>,
}

/// The parsed discovery documents (parsed on first use).
pub fn discovery() -> &'static Discovery {
    static DISCOVERY: OnceLock<Discovery> = OnceLock::new();
    DISCOVERY.get_or_init(|| {
        // The documents are compiled into the crate; a test proves they parse.
        let people: Value =
            serde_json::from_str(PEOPLE_JSON).expect("embedded people.v1.json is valid JSON");
        let directory: Value = serde_json::from_str(DIRECTORY_JSON)
            .expect("embedded admin.directory_v1.json is valid JSON");
        let mut methods = HashMap::new();
        for (api, doc) in [(Api::People, &people), (Api::Directory, &directory)] {
            if let Some(resources) = doc.get("resources") {
                index_methods(api, resources, &mut methods);
            }
        }
        Discovery {
            people,
            directory,
            methods,
        }
    })
}

fn index_methods(api: Api, resources: &Value, out: &mut HashMap<String, (Api, Value)>) {
    let Some(resources) = resources.as_object() else {
        return;
    };
    for resource in resources.values() {
        if let Some(methods) = resource.get("methods").and_then(Value::as_object) {
            for method in methods.values() {
                if let Some(id) = method.get("id").and_then(Value::as_str) {
                    out.insert(id.to_string(), (api, method.clone()));
                }
            }
        }
        if let Some(sub) = resource.get("resources") {
            index_methods(api, sub, out);
        }
    }
}

impl Discovery {
    /// The whole discovery document of an API.
    pub fn document(&self, api: Api) -> &Value {
        match api {
            Api::People => &self.people,
            Api::Directory => &self.directory,
        }
    }

    /// A method's discovery description, by id.
    pub fn method(&self, id: &str) -> Option<&Value> {
        self.methods.get(id).map(|(_, m)| m)
    }

    /// A named schema of an API.
    pub fn schema(&self, api: Api, name: &str) -> Option<&Value> {
        self.document(api).get("schemas")?.get(name)
    }

    /// The OAuth scopes of which a token must hold at least one to call the method.
    pub fn method_scopes(&self, id: &str) -> Vec<&str> {
        self.method(id)
            .and_then(|m| m.get("scopes"))
            .and_then(Value::as_array)
            .map(|s| s.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default()
    }

    /// A method's parameter description (method parameters first, then the API-wide standard ones).
    pub fn parameter(&self, method_id: &str, name: &str) -> Option<&Value> {
        let api = Api::of_method(method_id);
        self.method(method_id)
            .and_then(|m| m.get("parameters"))
            .and_then(|p| p.get(name))
            .or_else(|| self.document(api).get("parameters")?.get(name))
    }

    fn resolve<'a>(&'a self, api: Api, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        // `$ref` chains are one level deep in Google's documents; loop for safety.
        for _ in 0..8 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(name) => match self.schema(api, name) {
                    Some(s) => schema = s,
                    None => break,
                },
                None => break,
            }
        }
        schema
    }

    /// Every place where `value` does not fit the response schema of `method_id`: unknown fields, wrong
    /// JSON types, values outside an enum, malformed int64/date-time strings. Empty when it fits.
    pub fn check_response(&self, method_id: &str, value: &Value) -> Vec<String> {
        let api = Api::of_method(method_id);
        let Some(method) = self.method(method_id) else {
            return vec![format!("unknown method {method_id}")];
        };
        match method.get("response") {
            Some(schema) => {
                let mut out = Vec::new();
                self.check(api, schema, value, "", &mut out);
                out
            }
            None if value.as_object().is_some_and(Map::is_empty) => Vec::new(),
            None => vec![format!("{method_id} has no response body, got {value}")],
        }
    }

    /// Every place where `value` does not fit the named schema (see [`Discovery::check_response`]).
    pub fn check_schema(&self, api: Api, schema_name: &str, value: &Value) -> Vec<String> {
        let mut out = Vec::new();
        match self.schema(api, schema_name) {
            Some(schema) => self.check(api, schema, value, "", &mut out),
            None => out.push(format!("unknown schema {schema_name}")),
        }
        out
    }

    fn check(&self, api: Api, schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
        let schema = self.resolve(api, schema);
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("any");
        match (ty, value) {
            ("any", _) => {}
            ("object", Value::Object(map)) => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (key, v) in map {
                    let child = format!("{path}.{key}");
                    if let Some(p) = props.and_then(|p| p.get(key)) {
                        self.check(api, p, v, &child, out);
                    } else if let Some(a) = additional {
                        self.check(api, a, v, &child, out);
                    } else if props.is_some() {
                        out.push(format!("{child}: field not defined in the schema"));
                    }
                }
            }
            ("array", Value::Array(items)) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(api, item_schema, v, &format!("{path}[{i}]"), out);
                    }
                }
            }
            ("string", Value::String(s)) => {
                if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
                    && !allowed.iter().any(|a| a.as_str() == Some(s))
                {
                    out.push(format!("{path}: {s:?} is not one of the enum values"));
                }
                match schema.get("format").and_then(Value::as_str) {
                    Some("int64" | "uint64") if s.parse::<i128>().is_err() => {
                        out.push(format!("{path}: {s:?} is not an int64 string"))
                    }
                    Some("google-datetime" | "date-time")
                        if chrono::DateTime::parse_from_rfc3339(s).is_err() =>
                    {
                        out.push(format!("{path}: {s:?} is not an RFC 3339 timestamp"))
                    }
                    _ => {}
                }
            }
            ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => {}
            ("number", Value::Number(_)) => {}
            ("boolean", Value::Bool(_)) => {}
            (ty, v) => out.push(format!("{path}: expected {ty}, got {v}")),
        }
    }

    /// Validates a request body against a schema the way Google's JSON parser does: unknown field names are
    /// an error (the original proto names in snake_case are accepted and rewritten to camelCase), JSON types
    /// must fit, integers may arrive as strings. `null` stands for "absent".
    pub(crate) fn normalise_request(
        &self,
        api: Api,
        schema_name: &str,
        value: &mut Value,
    ) -> Result<(), ApiError> {
        let schema = self
            .schema(api, schema_name)
            .ok_or_else(|| ApiError::new(500, format!("unknown schema {schema_name}")))?;
        self.normalise(api, schema, value, "")
    }

    fn normalise(
        &self,
        api: Api,
        schema: &Value,
        value: &mut Value,
        path: &str,
    ) -> Result<(), ApiError> {
        let schema = self.resolve(api, schema);
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("any");
        let at = if path.is_empty() {
            String::new()
        } else {
            format!(" at '{path}'")
        };
        match (ty, &mut *value) {
            (_, Value::Null) | ("any", _) => Ok(()),
            ("object", Value::Object(map)) => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                let keys: Vec<String> = map.keys().cloned().collect();
                for key in keys {
                    let (name, prop) = match props.and_then(|p| p.get(&key)) {
                        Some(p) => (key.clone(), Some(p)),
                        None => {
                            let camel = snake_to_camel(&key);
                            match props.and_then(|p| p.get(&camel)) {
                                Some(p) if !map.contains_key(&camel) => {
                                    if let Some(v) = map.remove(&key) {
                                        map.insert(camel.clone(), v);
                                    }
                                    (camel, Some(p))
                                }
                                _ => (key.clone(), None),
                            }
                        }
                    };
                    let child_schema = match (prop, additional) {
                        (Some(p), _) => p,
                        (None, Some(a)) => a,
                        (None, None) if props.is_none() => continue,
                        (None, None) => {
                            let message = format!(
                                "Invalid JSON payload received. Unknown name \"{key}\"{at}: Cannot find field."
                            );
                            let field = if path.is_empty() {
                                key.clone()
                            } else {
                                path.to_string()
                            };
                            return Err(
                                ApiError::invalid_argument(message).with_field_violation(&field)
                            );
                        }
                    };
                    let child_path = if prop.is_some() {
                        join_path(path, &camel_to_snake(&name))
                    } else {
                        format!("{path}[{name}]")
                    };
                    if let Some(v) = map.get_mut(&name) {
                        self.normalise(api, child_schema, v, &child_path)?;
                    }
                }
                Ok(())
            }
            ("array", Value::Array(items)) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, v) in items.iter_mut().enumerate() {
                        self.normalise(api, item_schema, v, &format!("{path}[{i}]"))?;
                    }
                }
                Ok(())
            }
            ("string", Value::String(_)) | ("boolean", Value::Bool(_)) => Ok(()),
            ("integer" | "number", Value::Number(_)) => Ok(()),
            ("integer", Value::String(s)) if s.trim().parse::<i64>().is_ok() => {
                let n = s.trim().parse::<i64>().unwrap_or_default();
                *value = Value::from(n);
                Ok(())
            }
            ("array", v) => {
                let message = format!(
                    "Invalid JSON payload received. Expected an array{at}, got {}.",
                    json_kind(v)
                );
                Err(ApiError::invalid_argument(message).with_field_violation(path))
            }
            (_, Value::Array(_)) => {
                let message = format!(
                    "Invalid JSON payload received. Proto field is not repeating, cannot start list{at}."
                );
                Err(ApiError::invalid_argument(message).with_field_violation(path))
            }
            (ty, v) => {
                let message = format!("Invalid value{at} ({ty}), {v}");
                Err(ApiError::invalid_argument(message).with_field_violation(path))
            }
        }
    }

    /// Removes every property the schema marks read-only (`readOnly: true`), recursively: what Google
    /// ignores in input (metadata, displayName, formattedType, canonicalForm...).
    pub(crate) fn strip_read_only(&self, api: Api, schema_name: &str, value: &mut Value) {
        if let Some(schema) = self.schema(api, schema_name) {
            self.strip(api, schema, value);
        }
    }

    fn strip(&self, api: Api, schema: &Value, value: &mut Value) {
        let schema = self.resolve(api, schema);
        match value {
            Value::Object(map) => {
                let Some(props) = schema.get("properties").and_then(Value::as_object) else {
                    return;
                };
                map.retain(|k, _| {
                    !props
                        .get(k)
                        .and_then(|p| p.get("readOnly"))
                        .and_then(Value::as_bool)
                        .unwrap_or(false)
                });
                for (k, v) in map.iter_mut() {
                    if let Some(p) = props.get(k) {
                        self.strip(api, p, v);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for v in items {
                        self.strip(api, item_schema, v);
                    }
                }
            }
            _ => {}
        }
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn join_path(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// `email_addresses` -> `emailAddresses`.
pub(crate) fn snake_to_camel(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut upper = false;
    for c in s.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `emailAddresses` -> `email_addresses` (the proto field names Google's error messages use).
pub(crate) fn camel_to_snake(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_documents_parse_and_index_their_methods() {
        let d = discovery();
        assert!(d.method("people.people.connections.list").is_some());
        assert!(d.method("directory.users.list").is_some());
        assert!(
            d.method_scopes("people.people.batchCreateContacts")
                .contains(&"https://www.googleapis.com/auth/contacts")
        );
    }

    #[test]
    fn unknown_request_field_is_named_and_snake_case_is_accepted() {
        let d = discovery();
        let mut v = json!({"names": [{"given_name": "Ana"}], "emailAddresses": [{"value": "a@x"}]});
        d.normalise_request(Api::People, "Person", &mut v)
            .expect("valid person");
        assert_eq!(v["names"][0]["givenName"], "Ana");

        let mut bad = json!({"contacts": [{"contactPerson": {"nmes": []}}]});
        let err = d
            .normalise_request(Api::People, "BatchCreateContactsRequest", &mut bad)
            .expect_err("unknown field");
        assert_eq!(
            err.message,
            "Invalid JSON payload received. Unknown name \"nmes\" at 'contacts[0].contact_person': Cannot find field."
        );
    }

    #[test]
    fn response_check_reports_unknown_fields_and_bad_enums() {
        let d = discovery();
        let ok = json!({"resourceName": "contactGroups/myContacts", "groupType": "SYSTEM_CONTACT_GROUP"});
        assert!(d.check_schema(Api::People, "ContactGroup", &ok).is_empty());
        let bad = json!({"resourceName": "x", "groupType": "NOPE", "members": []});
        assert_eq!(d.check_schema(Api::People, "ContactGroup", &bad).len(), 2);
    }

    #[test]
    fn read_only_fields_are_stripped() {
        let d = discovery();
        let mut v = json!({"names": [{"givenName": "A", "displayName": "x"}], "metadata": {}, "phoneNumbers": [{"value": "1", "canonicalForm": "+1"}]});
        d.strip_read_only(Api::People, "Person", &mut v);
        assert_eq!(
            v,
            json!({"names": [{"givenName": "A"}], "phoneNumbers": [{"value": "1"}]})
        );
    }
}
