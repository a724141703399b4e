//! Turns a plain HTTP request into the `lambda_http::Request` an API function receives behind API Gateway
//! (HTTP API, payload format 2.0, IAM authorisation), and the function's response back into HTTP. The event is
//! built in API Gateway's JSON shape and converted by lambda_http itself, exactly as in Lambda.

use std::collections::BTreeMap;

use aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use base64::Engine as _;
use chrono::Utc;
use http::{HeaderMap, Method, header};
use lambda_http::request::LambdaRequest;
use serde_json::{Value, json};

use crate::template::Route;

/// The account id moto uses by default; the local stack's ARNs carry it.
pub const LOCAL_ACCOUNT_ID: &str = "123456789012";
/// The API id in the local request context (API Gateway's ids are 10 lowercase characters).
pub const LOCAL_API_ID: &str = "localapi00";

/// Who the local gateway says is calling: the IAM identity API Gateway would have verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The IAM user name; `local` by default.
    pub name: String,
    pub account_id: String,
}

impl Default for Caller {
    fn default() -> Self {
        Caller {
            name: "local".to_owned(),
            account_id: LOCAL_ACCOUNT_ID.to_owned(),
        }
    }
}

/// What the gateway knows about one incoming request.
#[derive(Debug, Clone)]
pub struct IncomingRequest<'a> {
    pub route: &'a Route,
    pub method: &'a Method,
    /// The path as sent (still percent-encoded).
    pub raw_path: &'a str,
    /// The query string as sent, without `?`.
    pub raw_query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The route's path parameters, decoded, by name.
    pub path_parameters: &'a BTreeMap<String, String>,
    pub source_ip: String,
    pub request_id: String,
}

/// Builds the API Gateway v2 event JSON for a request, as API Gateway sends it to the function.
pub fn api_gateway_v2_event(req: &IncomingRequest<'_>, caller: &Caller) -> Value {
    let now = Utc::now();
    let mut headers = serde_json::Map::new();
    let mut cookies = Vec::new();
    for name in req.headers.keys() {
        let values: Vec<&str> = req
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if name == header::COOKIE {
            cookies.extend(
                values
                    .iter()
                    .flat_map(|v| v.split(';'))
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned),
            );
            continue;
        }
        // API Gateway lower-cases header names and joins repeated headers with commas.
        headers.insert(name.as_str().to_owned(), Value::String(values.join(",")));
    }
    let host = req
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1")
        .to_owned();
    let user_agent = req
        .headers
        .get(header::USER_AGENT)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();

    let (body, is_base64) = match std::str::from_utf8(req.body) {
        _ if req.body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(req.body)),
            true,
        ),
    };

    let mut event = json!({
        "version": "2.0",
        "routeKey": req.route.route_key(),
        "rawPath": req.raw_path,
        "rawQueryString": req.raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": caller.account_id,
            "apiId": LOCAL_API_ID,
            "authorizer": {
                "iam": {
                    "accessKey": "LOCALACCESSKEY",
                    "accountId": caller.account_id,
                    "callerId": caller.name,
                    "cognitoIdentity": null,
                    "principalOrgId": null,
                    // No signature, so no verified ARN: the functions then record the caller id.
                    "userArn": null,
                    "userId": caller.name,
                }
            },
            "domainName": host,
            "domainPrefix": host.split('.').next().unwrap_or_default(),
            "http": {
                "method": req.method.as_str(),
                "path": req.raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": req.source_ip,
                "userAgent": user_agent,
            },
            "requestId": req.request_id,
            "routeKey": req.route.route_key(),
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
        },
        "isBase64Encoded": is_base64,
    });
    if let Some(object) = event.as_object_mut() {
        if !cookies.is_empty() {
            object.insert("cookies".to_owned(), json!(cookies));
        }
        let query = query_string_parameters(req.raw_query);
        if !query.is_empty() {
            object.insert("queryStringParameters".to_owned(), json!(query));
        }
        if !req.path_parameters.is_empty() {
            object.insert("pathParameters".to_owned(), json!(req.path_parameters));
        }
        if !body.is_null() {
            object.insert("body".to_owned(), body);
        }
    }
    event
}

/// API Gateway's `queryStringParameters`: decoded, repeated keys joined with commas.
fn query_string_parameters(raw_query: &str) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = BTreeMap::new();
    for (key, value) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        params
            .entry(key.into_owned())
            .and_modify(|joined| {
                joined.push(',');
                joined.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    params
}

#[derive(Debug, thiserror::Error)]
#[error("the API Gateway event does not parse: {0}")]
pub struct EventError(#[from] serde_json::Error);

/// Converts an API Gateway v2 event into the request lambda_http hands to a function, as the runtime does.
pub fn lambda_request(event: Value) -> Result<lambda_http::Request, EventError> {
    let event: ApiGatewayV2httpRequest = serde_json::from_value(event)?;
    Ok(lambda_http::Request::from(LambdaRequest::ApiGatewayV2(
        event,
    )))
}

/// Converts a function's response into the HTTP response API Gateway sends (status, headers, body).
pub fn http_response(
    response: lambda_http::Response<lambda_http::Body>,
    request_id: &str,
) -> axum::response::Response {
    let (mut parts, body) = response.into_parts();
    let bytes: Vec<u8> = match body {
        lambda_http::Body::Empty => Vec::new(),
        lambda_http::Body::Text(text) => text.into_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        // Body is non-exhaustive; anything new is sent as its bytes.
        other => other.as_ref().to_vec(),
    };
    if let Ok(value) = http::HeaderValue::from_str(request_id) {
        parts.headers.insert("apigw-requestid", value);
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, axum::body::Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::RouteMethod;
    use lambda_http::RequestExt;

    fn route() -> Route {
        Route {
            method: RouteMethod::Get,
            path: "/syncs/{id}/runs/{run_id}".to_owned(),
            function: "GetRunsFunction".to_owned(),
            binary: "get-runs".to_owned(),
        }
    }

    #[test]
    fn builds_the_request_a_function_sees_behind_api_gateway() {
        let route = route();
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().expect("header"));
        headers.insert("X-Thing", "a".parse().expect("header"));
        headers.append("X-Thing", "b".parse().expect("header"));
        headers.insert(header::COOKIE, "c1=1; c2=2".parse().expect("header"));
        let params = BTreeMap::from([
            ("id".to_owned(), "01SYNC".to_owned()),
            ("run_id".to_owned(), "01RUN".to_owned()),
        ]);
        let incoming = IncomingRequest {
            route: &route,
            method: &Method::GET,
            raw_path: "/syncs/01SYNC/runs/01RUN",
            raw_query: "limit=5&tag=a&tag=b%20c",
            headers: &headers,
            body: b"",
            path_parameters: &params,
            source_ip: "127.0.0.1".to_owned(),
            request_id: "req-1".to_owned(),
        };
        let event = api_gateway_v2_event(&incoming, &Caller::default());
        assert_eq!(event["routeKey"], "GET /syncs/{id}/runs/{run_id}");
        assert_eq!(event["headers"]["x-thing"], "a,b");
        assert_eq!(event["cookies"], json!(["c1=1", "c2=2"]));
        assert_eq!(event["queryStringParameters"]["tag"], "a,b c");
        assert_eq!(
            event["requestContext"]["authorizer"]["iam"]["callerId"],
            "local"
        );

        let request = lambda_request(event).expect("valid event");
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.uri().path(), "/syncs/01SYNC/runs/01RUN");
        assert_eq!(
            request.path_parameters().first("run_id"),
            Some("01RUN"),
            "path parameters come from the route's template"
        );
        assert_eq!(request.query_string_parameters().first("limit"), Some("5"));
        let context = request.request_context();
        let iam = context
            .authorizer()
            .and_then(|a| a.iam.as_ref())
            .expect("IAM authorizer context");
        assert_eq!(iam.user_id.as_deref(), Some("local"));
        assert_eq!(iam.caller_id.as_deref(), Some("local"));
    }

    #[test]
    fn bodies_arrive_as_sent() {
        let route = route();
        let headers = HeaderMap::new();
        let params = BTreeMap::new();
        let text = IncomingRequest {
            route: &route,
            method: &Method::POST,
            raw_path: "/syncs",
            raw_query: "",
            headers: &headers,
            body: br#"{"name":"x"}"#,
            path_parameters: &params,
            source_ip: "127.0.0.1".to_owned(),
            request_id: "r".to_owned(),
        };
        let request =
            lambda_request(api_gateway_v2_event(&text, &Caller::default())).expect("event");
        assert_eq!(request.body().as_ref(), br#"{"name":"x"}"#);

        let binary = IncomingRequest {
            body: &[0xff, 0x00, 0xfe],
            ..text
        };
        let event = api_gateway_v2_event(&binary, &Caller::default());
        assert_eq!(event["isBase64Encoded"], true);
        let request = lambda_request(event).expect("event");
        assert_eq!(request.body().as_ref(), &[0xff, 0x00, 0xfe]);
    }
}
