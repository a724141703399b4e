//! The HTTP API's routes, read from template.yaml: every `AWS::Serverless::Function` with `HttpApi` events,
//! each event's `Path` and `Method`, and the function's binary (`Metadata.BuildProperties.Binary`). The local
//! gateway serves exactly these routes, so they are never listed a second time in code.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// template.yaml at the root of the workspace this crate was built in.
pub fn default_template_path() -> PathBuf {
    crate::repo::repo_root().join("template.yaml")
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid YAML: {source}")]
    Yaml {
        path: String,
        source: serde_yaml::Error,
    },
    #[error("{path}: {detail}")]
    Invalid { path: String, detail: String },
}

/// An HTTP method as API Gateway HTTP APIs accept it in a route key (`ANY` matches every method).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RouteMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
    Any,
}

impl RouteMethod {
    fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_uppercase().as_str() {
            "GET" => RouteMethod::Get,
            "POST" => RouteMethod::Post,
            "PUT" => RouteMethod::Put,
            "PATCH" => RouteMethod::Patch,
            "DELETE" => RouteMethod::Delete,
            "HEAD" => RouteMethod::Head,
            "OPTIONS" => RouteMethod::Options,
            "ANY" | "X-AMAZON-APIGATEWAY-ANY-METHOD" => RouteMethod::Any,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RouteMethod::Get => "GET",
            RouteMethod::Post => "POST",
            RouteMethod::Put => "PUT",
            RouteMethod::Patch => "PATCH",
            RouteMethod::Delete => "DELETE",
            RouteMethod::Head => "HEAD",
            RouteMethod::Options => "OPTIONS",
            RouteMethod::Any => "ANY",
        }
    }
}

impl fmt::Display for RouteMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One route of the HTTP API and the function behind it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Route {
    pub method: RouteMethod,
    /// API Gateway's path template, e.g. `/syncs/{id}/runs/{run_id}`.
    pub path: String,
    /// The function's logical id in the template (e.g. `CreateSyncFunction`).
    pub function: String,
    /// The function's binary name (`Metadata.BuildProperties.Binary`), e.g. `create-sync`.
    pub binary: String,
}

impl Route {
    /// API Gateway's route key, e.g. `GET /syncs/{id}`.
    pub fn route_key(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The names of the path template's parameters, in order (`{proxy+}` gives `proxy`).
    pub fn path_parameter_names(&self) -> Vec<String> {
        path_segments(&self.path)
            .filter_map(|segment| segment_parameter(segment).map(|(name, _)| name.to_owned()))
            .collect()
    }
}

/// Reads and parses the template's HTTP API routes, sorted by path then method.
pub fn load_routes(path: &Path) -> Result<Vec<Route>, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_routes(&text, &path.display().to_string())
}

/// Parses the HTTP API routes out of a SAM template's text. `origin` names the template in errors.
pub fn parse_routes(text: &str, origin: &str) -> Result<Vec<Route>, TemplateError> {
    let invalid = |detail: String| TemplateError::Invalid {
        path: origin.to_owned(),
        detail,
    };
    let doc: Value = serde_yaml::from_str(text).map_err(|source| TemplateError::Yaml {
        path: origin.to_owned(),
        source,
    })?;
    let resources = doc
        .get("Resources")
        .and_then(Value::as_mapping)
        .ok_or_else(|| invalid("no Resources section".to_owned()))?;

    let mut routes = Vec::new();
    for (logical_id, resource) in resources {
        let Some(logical_id) = logical_id.as_str() else {
            continue;
        };
        if resource.get("Type").and_then(Value::as_str) != Some("AWS::Serverless::Function") {
            continue;
        }
        let Some(events) = resource
            .get("Properties")
            .and_then(|p| p.get("Events"))
            .and_then(Value::as_mapping)
        else {
            continue;
        };
        let api_events: Vec<(&Value, &Value)> = events
            .iter()
            .filter(|(_, event)| event.get("Type").and_then(Value::as_str) == Some("HttpApi"))
            .collect();
        if api_events.is_empty() {
            continue;
        }
        let binary = resource
            .get("Metadata")
            .and_then(|m| m.get("BuildProperties"))
            .and_then(|b| b.get("Binary"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                invalid(format!(
                    "function {logical_id} serves HttpApi events but has no Metadata.BuildProperties.Binary"
                ))
            })?;
        for (event_name, event) in api_events {
            let event_name = event_name.as_str().unwrap_or("?");
            let properties = event.get("Properties");
            let path = properties
                .and_then(|p| p.get("Path"))
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    invalid(format!(
                        "{logical_id}.Events.{event_name}: an HttpApi event without a Path (a catch-all \
                         $default route cannot be served locally)"
                    ))
                })?;
            let method_text = properties
                .and_then(|p| p.get("Method"))
                .and_then(Value::as_str)
                .unwrap_or("ANY");
            let method = RouteMethod::parse(method_text).ok_or_else(|| {
                invalid(format!(
                    "{logical_id}.Events.{event_name}: unknown Method {method_text:?}"
                ))
            })?;
            validate_path(path).map_err(|detail| {
                invalid(format!(
                    "{logical_id}.Events.{event_name}: Path {path:?} {detail}"
                ))
            })?;
            routes.push(Route {
                method,
                path: path.to_owned(),
                function: logical_id.to_owned(),
                binary: binary.to_owned(),
            });
        }
    }
    routes.sort_by(|a, b| (&a.path, a.method).cmp(&(&b.path, b.method)));
    if let Some(pair) = routes
        .windows(2)
        .find(|pair| pair[0].path == pair[1].path && pair[0].method == pair[1].method)
    {
        return Err(invalid(format!(
            "route {} is declared twice ({} and {})",
            pair[0].route_key(),
            pair[0].function,
            pair[1].function
        )));
    }
    Ok(routes)
}

fn path_segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// `{name}` gives `(name, false)`, `{name+}` gives `(name, true)`; anything else is a literal segment.
fn segment_parameter(segment: &str) -> Option<(&str, bool)> {
    let inner = segment.strip_prefix('{')?.strip_suffix('}')?;
    match inner.strip_suffix('+') {
        Some(name) => Some((name, true)),
        None => Some((inner, false)),
    }
}

fn validate_path(path: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err("does not start with '/'".to_owned());
    }
    let segments: Vec<&str> = path_segments(path).collect();
    for (i, segment) in segments.iter().enumerate() {
        match segment_parameter(segment) {
            Some((name, greedy)) => {
                if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(format!("has an invalid parameter {segment:?}"));
                }
                if greedy && i + 1 != segments.len() {
                    return Err("has a greedy parameter before its last segment".to_owned());
                }
            }
            None => {
                if segment.contains(['{', '}']) {
                    return Err(format!("has a malformed segment {segment:?}"));
                }
            }
        }
    }
    Ok(())
}

/// The path template in the local router's syntax: `{name}` stays, a greedy `{name+}` becomes `{*name}`.
pub fn router_path(path: &str) -> String {
    let segments: Vec<String> = path_segments(path)
        .map(|segment| match segment_parameter(segment) {
            Some((name, true)) => format!("{{*{name}}}"),
            _ => segment.to_owned(),
        })
        .collect();
    format!("/{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: provided.al2023
Resources:
  HttpApi:
    Type: AWS::Serverless::HttpApi
  CreateSyncFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildMethod: rust-cargolambda
      BuildProperties:
        Binary: create-sync
    Properties:
      CodeUri: .
      Environment:
        Variables:
          TABLE_NAME: !Ref SyncTable
      Events:
        Create:
          Type: HttpApi
          Properties:
            ApiId: !Ref HttpApi
            Path: /syncs
            Method: post
  GetRunsFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: get-runs
    Properties:
      Events:
        List:
          Type: HttpApi
          Properties: { ApiId: !Ref HttpApi, Path: "/syncs/{id}/runs", Method: GET }
        One:
          Type: HttpApi
          Properties: { ApiId: !Ref HttpApi, Path: "/syncs/{id}/runs/{run_id}", Method: GET }
  SchedulerFunction:
    Type: AWS::Serverless::Function
    Metadata:
      BuildProperties:
        Binary: scheduler
    Properties:
      Events:
        Daily:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: rate(1 day)
  SyncTable:
    Type: AWS::DynamoDB::Table
"#;

    #[test]
    fn reads_http_api_routes_with_their_binaries() {
        let routes = parse_routes(TEMPLATE, "t.yaml").expect("valid template");
        let keys: Vec<(String, &str)> = routes
            .iter()
            .map(|r| (r.route_key(), r.binary.as_str()))
            .collect();
        assert_eq!(
            keys,
            vec![
                ("POST /syncs".to_owned(), "create-sync"),
                ("GET /syncs/{id}/runs".to_owned(), "get-runs"),
                ("GET /syncs/{id}/runs/{run_id}".to_owned(), "get-runs"),
            ]
        );
        assert_eq!(routes[2].function, "GetRunsFunction");
        assert_eq!(routes[2].path_parameter_names(), vec!["id", "run_id"]);
    }

    #[test]
    fn a_function_with_routes_needs_a_binary_name() {
        let text = TEMPLATE.replace("Binary: create-sync", "Other: x");
        let err = parse_routes(&text, "t.yaml").expect_err("missing binary");
        assert!(err.to_string().contains("CreateSyncFunction"), "{err}");
    }

    #[test]
    fn rejects_duplicate_routes_and_bad_methods() {
        let dup = TEMPLATE.replace(
            "Path: \"/syncs/{id}/runs/{run_id}\"",
            "Path: \"/syncs/{id}/runs\"",
        );
        let err = parse_routes(&dup, "t.yaml").expect_err("duplicate");
        assert!(err.to_string().contains("declared twice"), "{err}");
        let bad = TEMPLATE.replace("Method: post", "Method: fetch");
        let err = parse_routes(&bad, "t.yaml").expect_err("bad method");
        assert!(err.to_string().contains("unknown Method"), "{err}");
    }

    #[test]
    fn greedy_parameters_use_the_router_syntax() {
        assert_eq!(router_path("/files/{proxy+}"), "/files/{*proxy}");
        assert_eq!(router_path("/syncs/{id}"), "/syncs/{id}");
        assert!(validate_path("/a/{p+}/b").is_err());
        assert!(validate_path("/a/x{p}").is_err());
    }
}
