//! One function per endpoint: an API Gateway (HTTP API, payload 2.0) request in, an HTTP response out. Each parses
//! path parameters, query and body, calls its operation in `ops`, and maps the result; every error goes through
//! `ApiError::into_response`. Handlers never fail: a failure is a response.
//!
//! [`functions`](super::functions) names the Lambda function that serves each handler.

use std::convert::Infallible;

use http::header::{CONTENT_TYPE, ETAG, HeaderValue, IF_MATCH, LOCATION};
use http::{HeaderName, StatusCode};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;

use super::context::ApiContext;
use super::error::ApiError;
use super::ops::{self, DEFAULT_PAGE_LIMIT, DeleteOutcome, MAX_PAGE_LIMIT};
use super::request::{CreateSyncRequest, StartRunRequest, UpdateSyncRequest, parse_body};
use crate::model::{Run, SyncDefinition};

/// The caller recorded when a request carries no IAM identity (the local gateway, tests).
pub const LOCAL_CALLER: &str = "local";

/// What a handler returns: always a response.
pub type HandlerResult = Result<Response<Body>, Infallible>;

// ---- endpoints ---------------------------------------------------------------------------------------------------

/// `POST /syncs`.
pub async fn create_sync(ctx: &ApiContext, req: Request) -> HandlerResult {
    Ok(respond(
        async {
            let body: CreateSyncRequest = parse_body(req.body().as_ref(), false)?;
            let created = ops::create_sync(ctx, &caller(&req), body).await?;
            let mut response = json(StatusCode::CREATED, &created);
            set_header(
                &mut response,
                LOCATION,
                &format!("/syncs/{}", created.sync.id),
            );
            set_etag(&mut response, &created.sync);
            Ok(response)
        }
        .await,
    ))
}

/// `GET /syncs?limit=&next_token=`.
pub async fn list_syncs(ctx: &ApiContext, req: Request) -> HandlerResult {
    Ok(respond(
        async {
            let limit = limit(&req)?;
            let token = query(&req, "next_token");
            let page = ops::list_syncs(ctx, limit, token.as_deref()).await?;
            Ok(json(StatusCode::OK, &page))
        }
        .await,
    ))
}

/// `GET /syncs/{id}`.
pub async fn get_sync(ctx: &ApiContext, req: Request) -> HandlerResult {
    Ok(respond(
        async {
            let id = path_param(&req, "id", "syncs")?;
            let view = ops::get_sync(ctx, &id).await?;
            let mut response = json(StatusCode::OK, &view);
            set_etag(&mut response, &view.sync);
            Ok(response)
        }
        .await,
    ))
}

/// `PATCH /syncs/{id}` with `If-Match`.
pub async fn update_sync(ctx: &ApiContext, req: Request) -> HandlerResult {
    Ok(respond(
        async {
            let id = path_param(&req, "id", "syncs")?;
            let body: UpdateSyncRequest = parse_body(req.body().as_ref(), false)?;
            let if_match = header(&req, IF_MATCH)?;
            let sync = ops::update_sync(ctx, &caller(&req), &id, if_match.as_deref(), body).await?;
            let mut response = json(StatusCode::OK, &sync);
            set_etag(&mut response, &sync);
            Ok(response)
        }
        .await,
    ))
}

/// `DELETE /syncs/{id}?remove_contacts=true|false`.
pub async fn delete_sync(ctx: &ApiContext, req: Request) -> HandlerResult {
    Ok(respond(
        async {
            let id = path_param(&req, "id", "syncs")?;
            let remove_contacts = bool_query(&req, "remove_contacts", false)?;
            let if_match = header(&req, IF_MATCH)?;
            match ops::delete_sync(
                ctx,
                &caller(&req),
                &id,
                remove_contacts,
                if_match.as_deref(),
            )
            .await?
            {
                DeleteOutcome::Deleted => {
                    let mut response = Response::new(Body::Empty);
                    *response.status_mut() = StatusCode::NO_CONTENT;
                    Ok(response)
                }
                DeleteOutcome::CleanupStarted(run) => Ok(accepted_run(&id, &run)),
            }
        }
        .await,
    ))
}

/// 202 with the started run and its `Location`.
fn accepted_run(sync_id: &str, run: &Run) -> Response<Body> {
    let mut response = json(StatusCode::ACCEPTED, run);
    set_header(
        &mut response,
        LOCATION,
        &format!("/syncs/{sync_id}/runs/{}", run.run_id),
    );
    response
}

/// `POST /syncs/{id}/runs` with an optional `{"dry_run": bool}`.
pub async fn start_run(ctx: &ApiContext, req: Request) -> HandlerResult {
    Ok(respond(
        async {
            let id = path_param(&req, "id", "syncs")?;
            let body: StartRunRequest = parse_body(req.body().as_ref(), true)?;
            let run = ops::start_run(ctx, &caller(&req), &id, body).await?;
            Ok(accepted_run(&id, &run))
        }
        .await,
    ))
}

/// `GET /syncs/{id}/runs` and `GET /syncs/{id}/runs/{run_id}` (one function serves both routes).
pub async fn get_runs(ctx: &ApiContext, req: Request) -> HandlerResult {
    Ok(respond(
        async {
            let id = path_param(&req, "id", "syncs")?;
            match optional_path_param(&req, "run_id", "runs") {
                Some(run_id) => {
                    let run = ops::get_run(ctx, &id, &run_id).await?;
                    Ok(json(StatusCode::OK, &run))
                }
                None => {
                    let limit = limit(&req)?;
                    let token = query(&req, "next_token");
                    let page = ops::list_runs(ctx, &id, limit, token.as_deref()).await?;
                    Ok(json(StatusCode::OK, &page))
                }
            }
        }
        .await,
    ))
}

/// `GET /directory/search?q=`.
pub async fn search_directory(ctx: &ApiContext, req: Request) -> HandlerResult {
    Ok(respond(
        async {
            let q = query(&req, "q");
            let results = ops::search_directory(ctx, q.as_deref()).await?;
            Ok(json(StatusCode::OK, &results))
        }
        .await,
    ))
}

/// `GET /users/{user}/contact-groups`.
pub async fn list_contact_groups(ctx: &ApiContext, req: Request) -> HandlerResult {
    Ok(respond(
        async {
            let user = path_param(&req, "user", "users")?;
            let groups = ops::list_contact_groups(ctx, &user).await?;
            Ok(json(StatusCode::OK, &groups))
        }
        .await,
    ))
}

// ---- request parsing ---------------------------------------------------------------------------------------------

fn respond(result: Result<Response<Body>, ApiError>) -> Response<Body> {
    result.unwrap_or_else(ApiError::into_response)
}

/// The caller's identity from the API Gateway IAM authorizer: the user ARN, else the caller id, else `local`.
pub fn caller(req: &Request) -> String {
    let iam = match req.request_context_ref() {
        Some(context @ RequestContext::ApiGatewayV2(_)) => {
            context.authorizer().and_then(|a| a.iam.as_ref())
        }
        _ => None,
    };
    iam.and_then(|iam| {
        [iam.user_arn.as_deref(), iam.caller_id.as_deref()]
            .into_iter()
            .flatten()
            .map(str::trim)
            .find(|s| !s.is_empty())
            .map(str::to_owned)
    })
    .unwrap_or_else(|| LOCAL_CALLER.to_owned())
}

/// A path parameter, from API Gateway's `pathParameters`, else from the path segment after `after`
/// (e.g. `syncs`). Percent-encoded values are decoded.
fn optional_path_param(req: &Request, name: &str, after: &str) -> Option<String> {
    let raw = req
        .path_parameters_ref()
        .and_then(|params| params.first(name))
        .map(str::to_owned)
        .or_else(|| {
            let path = req.raw_http_path();
            let path = if path.is_empty() {
                req.uri().path()
            } else {
                path
            };
            let mut segments = path.split('/');
            segments.find(|s| *s == after)?;
            segments.next().filter(|s| !s.is_empty()).map(str::to_owned)
        })?;
    let decoded = urlencoding::decode(&raw)
        .map(|d| d.into_owned())
        .unwrap_or(raw);
    (!decoded.is_empty()).then_some(decoded)
}

fn path_param(req: &Request, name: &str, after: &str) -> Result<String, ApiError> {
    optional_path_param(req, name, after).ok_or_else(|| {
        ApiError::bad_request(
            "missing_path_parameter",
            name,
            format!("the path needs {{{name}}}"),
        )
    })
}

/// The first value of a query parameter, if present and not empty.
fn query(req: &Request, name: &str) -> Option<String> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// `limit`: 1..=100, default 25.
fn limit(req: &Request) -> Result<u32, ApiError> {
    let Some(raw) = query(req, "limit") else {
        return Ok(DEFAULT_PAGE_LIMIT);
    };
    match raw.parse::<u32>() {
        Ok(n) if (1..=MAX_PAGE_LIMIT).contains(&n) => Ok(n),
        _ => Err(ApiError::bad_request(
            "invalid_limit",
            "limit",
            format!("limit must be a whole number from 1 to {MAX_PAGE_LIMIT}, not {raw:?}"),
        )),
    }
}

fn bool_query(req: &Request, name: &str, default: bool) -> Result<bool, ApiError> {
    match query(req, name).as_deref() {
        None => Ok(default),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(ApiError::bad_request(
            "invalid_boolean",
            name,
            format!("{name} must be true or false, not {other:?}"),
        )),
    }
}

fn header(req: &Request, name: HeaderName) -> Result<Option<String>, ApiError> {
    match req.headers().get(&name) {
        None => Ok(None),
        Some(value) => value
            .to_str()
            .map(|v| Some(v.trim().to_owned()).filter(|v| !v.is_empty()))
            .map_err(|_| {
                ApiError::bad_request(
                    "invalid_header",
                    name.as_str(),
                    format!("{name} must be ASCII text"),
                )
            }),
    }
}

// ---- responses ---------------------------------------------------------------------------------------------------

fn json<T: Serialize>(status: StatusCode, value: &T) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => {
            let mut response = Response::new(Body::Binary(bytes));
            *response.status_mut() = status;
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(e) => ApiError::Internal {
            message: format!("the response could not be encoded: {e}"),
        }
        .into_response(),
    }
}

fn set_header(response: &mut Response<Body>, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// `ETag: "<version>"`, the value `If-Match` must carry on the next update.
fn set_etag(response: &mut Response<Body>, sync: &SyncDefinition) {
    set_header(response, ETAG, &format!("\"{}\"", sync.version));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::testing::Fixture;
    use serde_json::{Value, json};

    /// An API Gateway v2 event as Lambda delivers it, converted the way the runtime does.
    fn event(
        method: &str,
        path: &str,
        params: Value,
        query: &str,
        body: Option<&str>,
        user_arn: Option<&str>,
    ) -> Request {
        let mut headers = json!({"content-type": "application/json", "host": "api.example.com"});
        if method == "PATCH" {
            headers["if-match"] = json!("\"1\"");
        }
        let authorizer = match user_arn {
            Some(arn) => {
                json!({"iam": {"accessKey": "AKIA", "accountId": "1", "callerId": "AIDA:x", "userArn": arn, "userId": "AIDA"}})
            }
            None => Value::Null,
        };
        let event = json!({
            "version": "2.0",
            "routeKey": format!("{method} {path}"),
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "pathParameters": params,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "api",
                "authorizer": authorizer,
                "domainName": "api.example.com",
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
                "requestId": "r1",
                "routeKey": format!("{method} {path}"),
                "stage": "$default",
                "time": "01/Mar/2025:12:00:00 +0000",
                "timeEpoch": 1_740_830_400_000_i64
            },
            "body": body,
            "isBase64Encoded": false
        });
        lambda_http::request::from_str(&event.to_string()).expect("a valid API Gateway v2 event")
    }

    fn body_of(response: &Response<Body>) -> Value {
        serde_json::from_slice(response.body().as_ref()).unwrap_or(Value::Null)
    }

    #[test]
    fn the_caller_comes_from_the_iam_authorizer() {
        let req = event(
            "GET",
            "/syncs",
            Value::Null,
            "",
            None,
            Some("arn:aws:iam::1:user/ops"),
        );
        assert_eq!(caller(&req), "arn:aws:iam::1:user/ops");
        let req = event("GET", "/syncs", Value::Null, "", None, None);
        assert_eq!(caller(&req), LOCAL_CALLER);
    }

    #[tokio::test]
    async fn create_then_get_through_events() {
        let f = Fixture::new();
        let body = r#"{"name":"S","source_user":"ann@example.com","contact_group":"Customers","destinations":[{"type":"user","value":"bob@example.com"}],"run_immediately":false}"#;
        let req = event(
            "POST",
            "/syncs",
            Value::Null,
            "",
            Some(body),
            Some("arn:aws:iam::1:user/ops"),
        );
        let response = create_sync(&f.ctx, req).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::CREATED);
        let created = body_of(&response);
        let id = created["id"].as_str().expect("id").to_owned();
        assert_eq!(
            response.headers()[LOCATION],
            format!("/syncs/{id}").as_str()
        );
        assert_eq!(response.headers()[ETAG], "\"1\"");
        assert_eq!(created["created_by"], "arn:aws:iam::1:user/ops");

        let req = event(
            "GET",
            &format!("/syncs/{id}"),
            json!({"id": id}),
            "",
            None,
            None,
        );
        let response = get_sync(&f.ctx, req).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[ETAG], "\"1\"");

        // Without pathParameters (a bare gateway), the id comes from the path.
        let req = event("GET", &format!("/syncs/{id}"), Value::Null, "", None, None);
        assert_eq!(
            get_sync(&f.ctx, req).await.expect("infallible").status(),
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn query_parameters_are_checked() {
        let f = Fixture::new();
        for bad in ["limit=0", "limit=101", "limit=x"] {
            let response = list_syncs(&f.ctx, event("GET", "/syncs", Value::Null, bad, None, None))
                .await
                .expect("infallible");
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(body_of(&response)["error"]["field"], "limit");
        }
        let response = delete_sync(
            &f.ctx,
            event(
                "DELETE",
                "/syncs/01ABC",
                json!({"id": "01ABC"}),
                "remove_contacts=yes",
                None,
                None,
            ),
        )
        .await
        .expect("infallible");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let response = search_directory(
            &f.ctx,
            event("GET", "/directory/search", Value::Null, "q=a", None, None),
        )
        .await
        .expect("infallible");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn contact_groups_take_an_encoded_email() {
        let f = Fixture::new();
        let req = event(
            "GET",
            "/users/ann%40example.com/contact-groups",
            json!({"user": "ann%40example.com"}),
            "",
            None,
            None,
        );
        let response = list_contact_groups(&f.ctx, req).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body_of(&response)["user_email"], "ann@example.com");
    }
}
