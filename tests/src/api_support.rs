//! The rig of the API handler tests: a Google emulator with the demo seed, a DynamoDB table of its own in moto,
//! the emulator's key in moto's Secrets Manager (read back the way the Lambdas read it), a recording dispatcher,
//! and real API Gateway HTTP API (payload 2.0) events with an IAM authorizer context, converted to requests by
//! lambda_http exactly as the Lambda runtime does, then served by the handler the registry names.

use std::sync::{Arc, Mutex, PoisonError};

use anyhow::{Context as _, Result};
use async_trait::async_trait;
use contact_sync::api::ApiContext;
use contact_sync::api::api_function;
use contact_sync::dispatch::{DispatchError, Dispatcher};
use contact_sync::google::{GoogleClients, RetryPolicy};
use contact_sync::google::{GoogleConfig, GoogleEndpoints};
use contact_sync::model::{ExecutorEvent, new_id};
use contact_sync::store::{DynamoStore, SyncStore, create_table};
use google_emulator::{EmulatorOptions, RunningEmulator};
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use serde_json::{Value, json};

/// The Workspace admin of the demo seed, impersonated for Directory reads.
pub const ADMIN: &str = "admin@example.com";
/// The IAM identity of the test's requests.
pub const CALLER_ARN: &str = "arn:aws:iam::123456789012:user/contact-sync-admin";

/// moto's endpoint, which `make test` exports; without it these tests cannot run.
pub fn moto_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: the API tests run against moto. Run them with `make test` (it starts a \
             private moto server and exports AWS_ENDPOINT_URL and dummy credentials)."
        ),
    }
}

/// Records every event handed to it; refuses them while `fail` is set.
#[derive(Debug, Default)]
pub struct RecordingDispatcher {
    events: Mutex<Vec<ExecutorEvent>>,
    fail: Mutex<bool>,
}

impl RecordingDispatcher {
    pub fn events(&self) -> Vec<ExecutorEvent> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn set_failing(&self, fail: bool) {
        *self.fail.lock().unwrap_or_else(PoisonError::into_inner) = fail;
    }
}

#[async_trait]
impl Dispatcher for RecordingDispatcher {
    async fn dispatch(&self, event: &ExecutorEvent) -> Result<(), DispatchError> {
        if *self.fail.lock().unwrap_or_else(PoisonError::into_inner) {
            return Err(DispatchError::Failed {
                sync_id: event.sync_id.clone(),
                detail: "Lambda refused the invocation (test)".to_owned(),
            });
        }
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.clone());
        Ok(())
    }
}

/// One test's world.
pub struct ApiRig {
    pub emulator: RunningEmulator,
    pub store: Arc<DynamoStore>,
    pub dispatcher: Arc<RecordingDispatcher>,
    pub ctx: ApiContext,
}

impl ApiRig {
    /// An emulator with the demo seed, a fresh table and secret in moto, and the context over them.
    pub async fn start() -> Result<ApiRig> {
        moto_endpoint();
        contact_sync::telemetry::init();
        let emulator = google_emulator::start(EmulatorOptions::default()).await?;
        let sdk = contact_sync::aws::load_config().await;
        let suffix = new_id().to_lowercase();
        let table = format!("api-{suffix}");
        create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await?;
        let secret_id = format!("api-key-{suffix}");
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        secrets
            .create_secret()
            .name(&secret_id)
            .secret_string(emulator.service_account_key_json())
            .send()
            .await
            .context("creating the key secret in moto")?;
        let google = GoogleClients::from_secret(
            &secrets,
            &GoogleConfig {
                key_secret_id: secret_id,
                admin_email: ADMIN.to_owned(),
                endpoints: GoogleEndpoints::all_at(&emulator.base_url()),
            },
            RetryPolicy::fast(),
        )
        .await?;
        let store = Arc::new(DynamoStore::new(
            aws_sdk_dynamodb::Client::new(&sdk),
            &table,
        ));
        let dispatcher = Arc::new(RecordingDispatcher::default());
        let ctx = ApiContext::new(
            Arc::clone(&store) as Arc<dyn SyncStore>,
            google.people,
            google.directory,
            Arc::clone(&dispatcher) as Arc<dyn Dispatcher>,
        );
        Ok(ApiRig {
            emulator,
            store,
            dispatcher,
            ctx,
        })
    }

    /// Sends `request` to the handler of `function` (e.g. `create-sync`), as Lambda would.
    pub async fn call(&self, function: &str, request: &EventBuilder) -> Result<ApiResponse> {
        let handler = api_function(function)
            .with_context(|| format!("no handler for {function}"))?
            .handler;
        let response = handler(&self.ctx, request.request()?).await?;
        ApiResponse::from_response(response)
    }
}

/// A handler's response, decoded.
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: http::HeaderMap,
    /// The JSON body (`Null` when empty).
    pub body: Value,
}

impl ApiResponse {
    fn from_response(response: lambda_http::Response<lambda_http::Body>) -> Result<ApiResponse> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes: &[u8] = response.body().as_ref();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes).with_context(|| {
                format!(
                    "response body is not JSON: {}",
                    String::from_utf8_lossy(bytes)
                )
            })?
        };
        Ok(ApiResponse {
            status,
            headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// `error.code`, `error.field` of an error body.
    pub fn error(&self) -> (&str, Option<&str>) {
        (
            self.body["error"]["code"].as_str().unwrap_or_default(),
            self.body["error"]["field"].as_str(),
        )
    }
}

/// An API Gateway HTTP API (payload format 2.0) event for one route.
#[derive(Debug, Clone)]
pub struct EventBuilder {
    method: String,
    route: String,
    path: String,
    path_parameters: Vec<(String, String)>,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<String>,
    caller_arn: Option<String>,
}

impl EventBuilder {
    /// `route` is the template's route path (`/syncs/{id}`); `params` give the values of its `{...}` path variables.
    pub fn new(method: &str, route: &str, params: &[(&str, &str)]) -> Self {
        let mut path = route.to_owned();
        for (name, value) in params {
            let encoded = urlencoding::encode(value);
            path = path.replace(&format!("{{{name}}}"), &encoded);
        }
        EventBuilder {
            method: method.to_owned(),
            route: route.to_owned(),
            path,
            path_parameters: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            query: Vec::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: None,
            caller_arn: Some(CALLER_ARN.to_owned()),
        }
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_lowercase(), value.to_owned()));
        self
    }

    pub fn json(self, body: &Value) -> Self {
        self.raw_body(&body.to_string())
    }

    pub fn raw_body(mut self, body: &str) -> Self {
        self.body = Some(body.to_owned());
        self
    }

    /// No IAM authorizer context (as the local gateway sends it).
    pub fn anonymous(mut self) -> Self {
        self.caller_arn = None;
        self
    }

    /// The event JSON, exactly as API Gateway delivers it to Lambda.
    pub fn event(&self) -> Value {
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", urlencoding::encode(k), urlencoding::encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut headers = serde_json::Map::new();
        headers.insert(
            "host".into(),
            json!("abc123.execute-api.us-east-1.amazonaws.com"),
        );
        headers.insert("user-agent".into(), json!("contact-sync-tests"));
        for (k, v) in &self.headers {
            headers.insert(k.clone(), json!(v));
        }
        let query_parameters: serde_json::Map<String, Value> = self
            .query
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let path_parameters: serde_json::Map<String, Value> = self
            .path_parameters
            .iter()
            .map(|(k, v)| (k.clone(), json!(v)))
            .collect();
        let authorizer = self.caller_arn.as_ref().map(|arn| {
            json!({"iam": {
                "accessKey": "ASIAEXAMPLE",
                "accountId": "123456789012",
                "callerId": "AIDAEXAMPLE",
                "cognitoIdentity": null,
                "principalOrgId": null,
                "userArn": arn,
                "userId": "AIDAEXAMPLE"
            }})
        });
        let route_key = format!("{} {}", self.method, self.route);
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": self.path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123",
                "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123",
                "http": {
                    "method": self.method,
                    "path": self.path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "192.0.2.10",
                    "userAgent": "contact-sync-tests"
                },
                "requestId": new_id(),
                "routeKey": route_key,
                "stage": "$default",
                "time": "01/Mar/2025:12:00:00 +0000",
                "timeEpoch": 1_740_830_400_000_i64
            },
            "isBase64Encoded": false
        });
        if let Some(authorizer) = authorizer {
            event["requestContext"]["authorizer"] = authorizer;
        }
        if !query_parameters.is_empty() {
            event["queryStringParameters"] = Value::Object(query_parameters);
        }
        if !path_parameters.is_empty() {
            event["pathParameters"] = Value::Object(path_parameters);
        }
        if let Some(body) = &self.body {
            event["body"] = json!(body);
        }
        event
    }

    /// The request the Lambda runtime hands the handler: the event checked against aws_lambda_events'
    /// `ApiGatewayV2httpRequest`, then converted by lambda_http.
    pub fn request(&self) -> Result<lambda_http::Request> {
        let event = self.event();
        let typed: ApiGatewayV2httpRequest =
            serde_json::from_value(event.clone()).context("not an API Gateway v2 event")?;
        anyhow::ensure!(
            typed
                .request_context
                .authorizer
                .as_ref()
                .and_then(|a| a.iam.as_ref())
                .is_some()
                == self.caller_arn.is_some(),
            "the IAM authorizer context did not survive parsing"
        );
        lambda_http::request::from_str(&event.to_string())
            .context("lambda_http could not convert the event")
    }
}
