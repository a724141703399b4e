//! The local API gateway: serves the template's routes on loopback, hands each request to its function's handler
//! as the API Gateway v2 event Lambda would deliver, and sends the handler's response back. Unsigned requests are
//! accepted; the caller is recorded as the configured local identity. `POST /local/schedule` fires the daily
//! scheduler on demand.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, any, post};
use futures::future::BoxFuture;
use http::StatusCode;
use serde_json::{Value, json};

use crate::event::{self, Caller, IncomingRequest};
use crate::template::{Route, RouteMethod, router_path};

/// The largest request body API Gateway HTTP APIs accept (10 MB).
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

/// The path of the local-only endpoint that fires the scheduler.
pub const SCHEDULE_PATH: &str = "/local/schedule";

/// One function's request handler, as the gateway calls it: the lambda_http request in, the response out. An
/// `Err` is what a Lambda invocation error would be (API Gateway answers 500).
pub type ApiHandler = Arc<
    dyn Fn(
            lambda_http::Request,
        ) -> BoxFuture<'static, Result<lambda_http::Response<lambda_http::Body>, String>>
        + Send
        + Sync,
>;

/// Fires the scheduler with an EventBridge scheduled event (as JSON) and returns its summary.
pub type ScheduleHandler =
    Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, String>> + Send + Sync>;

/// A template route with the handler that serves it.
#[derive(Clone)]
pub struct BoundRoute {
    pub route: Route,
    pub handler: ApiHandler,
}

struct Shared {
    caller: Caller,
    requests: AtomicU64,
}

/// Builds the gateway's router: exactly the given routes, plus `POST /local/schedule`.
pub fn router(routes: Vec<BoundRoute>, caller: Caller, schedule: ScheduleHandler) -> Router {
    let shared = Arc::new(Shared {
        caller,
        requests: AtomicU64::new(0),
    });
    // Routes sharing a path share one method router.
    let mut by_path: BTreeMap<String, (MethodRouter, bool)> = BTreeMap::new();
    for bound in routes {
        let path = router_path(&bound.route.path);
        let shared = Arc::clone(&shared);
        let method = bound.route.method;
        let serve = move |request: axum::extract::Request| {
            let shared = Arc::clone(&shared);
            let bound = bound.clone();
            async move { serve(&shared, &bound, request).await }
        };
        let (entry, has_any) = by_path.remove(&path).unwrap_or_default();
        // `ANY` serves every method the path has no specific route for, as in API Gateway.
        let entry = match method_filter(method) {
            Some(filter) => (entry.on(filter, serve), has_any),
            None => (entry.fallback(serve), true),
        };
        by_path.insert(path, entry);
    }
    let mut router = Router::new();
    for (path, (methods, has_any)) in by_path {
        let methods = if has_any {
            methods
        } else {
            methods.fallback(not_found)
        };
        router = router.route(&path, methods);
    }
    router
        .route(
            SCHEDULE_PATH,
            post(move || fire_schedule(Arc::clone(&schedule))).fallback(not_found),
        )
        .fallback(any(not_found))
}

fn method_filter(method: RouteMethod) -> Option<MethodFilter> {
    Some(match method {
        RouteMethod::Get => MethodFilter::GET,
        RouteMethod::Post => MethodFilter::POST,
        RouteMethod::Put => MethodFilter::PUT,
        RouteMethod::Patch => MethodFilter::PATCH,
        RouteMethod::Delete => MethodFilter::DELETE,
        RouteMethod::Head => MethodFilter::HEAD,
        RouteMethod::Options => MethodFilter::OPTIONS,
        RouteMethod::Any => return None,
    })
}

/// API Gateway's answer for a request that matches no route (it does not distinguish a wrong method).
async fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}

fn message(status: StatusCode, text: &str) -> Response {
    (status, axum::Json(json!({ "message": text }))).into_response()
}

async fn serve(shared: &Shared, bound: &BoundRoute, request: axum::extract::Request) -> Response {
    let number = shared.requests.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("local-{}-{number}", ulid::Ulid::generate());
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => return message(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large"),
    };
    let raw_path = parts.uri.path();
    let Some(path_parameters) = match_path(&bound.route.path, raw_path) else {
        return not_found().await;
    };
    let incoming = IncomingRequest {
        route: &bound.route,
        method: &parts.method,
        raw_path,
        raw_query: parts.uri.query().unwrap_or_default(),
        headers: &parts.headers,
        body: &body,
        path_parameters: &path_parameters,
        source_ip: "127.0.0.1".to_owned(),
        request_id: request_id.clone(),
    };
    let event = event::api_gateway_v2_event(&incoming, &shared.caller);
    let lambda_request = match event::lambda_request(event) {
        Ok(r) => r,
        Err(err) => {
            tracing::error!(error = %err, "building the API Gateway event failed");
            return message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error");
        }
    };
    let started = std::time::Instant::now();
    let outcome = (bound.handler)(lambda_request).await;
    let response = match outcome {
        Ok(response) => event::http_response(response, &request_id),
        Err(err) => {
            // What API Gateway answers when the function invocation fails.
            tracing::error!(function = %bound.route.binary, error = %err, "function error");
            message(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    };
    tracing::info!(
        route = %bound.route.route_key(),
        function = %bound.route.binary,
        path = %raw_path,
        status = response.status().as_u16(),
        millis = started.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// Matches a request path against an API Gateway path template, giving the decoded path parameters.
pub fn match_path(template: &str, raw_path: &str) -> Option<BTreeMap<String, String>> {
    let pattern: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    let actual: Vec<&str> = raw_path.split('/').filter(|s| !s.is_empty()).collect();
    let mut params = BTreeMap::new();
    for (i, segment) in pattern.iter().enumerate() {
        let inner = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        match inner {
            Some(name) if name.ends_with('+') => {
                let rest = actual.get(i..)?.join("/");
                if rest.is_empty() {
                    return None;
                }
                params.insert(name.trim_end_matches('+').to_owned(), decode(&rest)?);
                return Some(params);
            }
            Some(name) => {
                params.insert(name.to_owned(), decode(actual.get(i)?)?);
            }
            None => {
                if actual.get(i) != Some(segment) {
                    return None;
                }
            }
        }
    }
    (pattern.len() == actual.len()).then_some(params)
}

fn decode(segment: &str) -> Option<String> {
    urlencoding::decode(segment).ok().map(|s| s.into_owned())
}

async fn fire_schedule(schedule: ScheduleHandler) -> Response {
    let event = scheduled_event();
    match schedule(event).await {
        Ok(summary) => (StatusCode::OK, axum::Json(summary)).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "scheduler failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({ "message": "scheduler failed", "error": err })),
            )
                .into_response()
        }
    }
}

/// The event EventBridge Scheduler's daily rule delivers (a `Scheduled Event` with an empty detail).
pub fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": uuid_like(),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": event::LOCAL_ACCOUNT_ID,
        "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "us-east-1",
        "resources": [format!("arn:aws:events:us-east-1:{}:rule/contact-sync-daily", event::LOCAL_ACCOUNT_ID)],
        "detail": {},
    })
}

/// An id in the shape of a UUID, from a fresh ULID's 128 bits.
fn uuid_like() -> String {
    let hex = format!("{:032x}", u128::from(ulid::Ulid::generate()));
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::parse_routes;
    use lambda_http::RequestExt;
    use tower::ServiceExt;

    /// Answers with what the function saw: route key, path parameters, caller, body.
    fn echo() -> ApiHandler {
        Arc::new(|request: lambda_http::Request| {
            Box::pin(async move {
                let context = request.request_context();
                let route_key = match &context {
                    lambda_http::request::RequestContext::ApiGatewayV2(c) => c.route_key.clone(),
                    _ => None,
                };
                let caller = context
                    .authorizer()
                    .and_then(|a| a.iam.as_ref())
                    .and_then(|iam| iam.caller_id.clone());
                let params: BTreeMap<String, String> = request
                    .path_parameters()
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                let body = String::from_utf8_lossy(request.body().as_ref()).into_owned();
                let answer =
                    json!({"route": route_key, "params": params, "caller": caller, "body": body});
                lambda_http::Response::builder()
                    .status(201)
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(lambda_http::Body::Text(answer.to_string()))
                    .map_err(|e| e.to_string())
            })
        })
    }

    fn app() -> Router {
        let template = r#"
Resources:
  RunsFunction:
    Type: AWS::Serverless::Function
    Metadata: { BuildProperties: { Binary: get-runs } }
    Properties:
      Events:
        One: { Type: HttpApi, Properties: { Path: "/syncs/{id}/runs/{run_id}", Method: GET } }
        Start: { Type: HttpApi, Properties: { Path: "/syncs/{id}/runs", Method: POST } }
"#;
        let routes = parse_routes(template, "t.yaml").expect("routes");
        let bound = routes
            .into_iter()
            .map(|route| BoundRoute {
                route,
                handler: echo(),
            })
            .collect();
        let schedule: ScheduleHandler = Arc::new(|event| {
            Box::pin(async move { Ok(json!({"detail-type": event["detail-type"]})) })
        });
        router(bound, Caller::default(), schedule)
    }

    async fn call(method: &str, uri: &str, body: &str) -> (StatusCode, bool, Value) {
        let request = http::Request::builder()
            .method(method)
            .uri(uri)
            .body(axum::body::Body::from(body.to_owned()))
            .expect("request");
        let response = app().oneshot(request).await.expect("infallible");
        let status = response.status();
        let from_function = response.headers().contains_key("apigw-requestid");
        let bytes = axum::body::to_bytes(response.into_body(), MAX_BODY_BYTES)
            .await
            .expect("body");
        (
            status,
            from_function,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn template_routes_reach_their_function_with_path_parameters() {
        let (status, from_function, body) = call("GET", "/syncs/01A/runs/01B", "").await;
        assert_eq!(status, StatusCode::CREATED);
        assert!(from_function);
        assert_eq!(body["route"], "GET /syncs/{id}/runs/{run_id}");
        assert_eq!(body["params"], json!({"id": "01A", "run_id": "01B"}));
        assert_eq!(body["caller"], "local");

        let (_, _, body) = call("POST", "/syncs/01A/runs", r#"{"dry_run":true}"#).await;
        assert_eq!(body["route"], "POST /syncs/{id}/runs");
        assert_eq!(body["body"], r#"{"dry_run":true}"#);
    }

    #[tokio::test]
    async fn anything_else_is_api_gateways_not_found() {
        for (method, uri) in [
            ("GET", "/syncs/01A/runs"),
            ("DELETE", "/syncs/01A/runs/01B"),
            ("GET", "/elsewhere"),
            ("GET", SCHEDULE_PATH),
        ] {
            let (status, from_function, body) = call(method, uri, "").await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {uri}");
            assert!(!from_function, "{method} {uri}");
            assert_eq!(body, json!({"message": "Not Found"}), "{method} {uri}");
        }
    }

    #[tokio::test]
    async fn the_schedule_endpoint_hands_over_a_scheduled_event() {
        let (status, _, body) = call("POST", SCHEDULE_PATH, "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["detail-type"], "Scheduled Event");
    }

    #[test]
    fn path_templates_fill_parameters() {
        let params = match_path("/syncs/{id}/runs/{run_id}", "/syncs/01A/runs/01B").expect("match");
        assert_eq!(params.get("id").map(String::as_str), Some("01A"));
        assert_eq!(params.get("run_id").map(String::as_str), Some("01B"));
        let params = match_path(
            "/users/{user}/contact-groups",
            "/users/sales%40example.com/contact-groups",
        )
        .expect("match");
        assert_eq!(
            params.get("user").map(String::as_str),
            Some("sales@example.com")
        );
        assert!(match_path("/syncs/{id}", "/syncs").is_none());
        assert!(match_path("/syncs/{id}", "/syncs/1/runs").is_none());
        assert!(match_path("/syncs", "/other").is_none());
        let params = match_path("/files/{proxy+}", "/files/a/b%20c").expect("greedy");
        assert_eq!(params.get("proxy").map(String::as_str), Some("a/b c"));
    }

    #[test]
    fn scheduled_events_have_eventbridges_shape() {
        let event = scheduled_event();
        let parsed: aws_lambda_events::eventbridge::EventBridgeEvent =
            serde_json::from_value(event.clone()).expect("an EventBridge event");
        assert_eq!(parsed.detail_type, "Scheduled Event");
        assert_eq!(event["id"].as_str().map(str::len), Some(36));
    }
}
