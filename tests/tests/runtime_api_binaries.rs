//! Every function binary as a real process under a Lambda Runtime API (tests/src/runtime_api.rs), with exactly the
//! environment template.yaml gives that function (parameters and resources resolved to moto and the Google
//! emulator): one real event each (API Gateway v2 with an IAM caller, an EventBridge scheduled event, an executor
//! event), the response checked. Catches missing variables and start-up failures that handler tests cannot.
//!
//! The binaries are the crates under functions/; crates that do not exist yet are reported and skipped (the
//! template test insists that every template function has its crate).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use contact_sync::api::ApiContext;
use contact_sync::config::vars;
use contact_sync::dispatch::LambdaDispatcher;
use contact_sync::google::{GoogleClients, GoogleConfig, GoogleEndpoints, RetryPolicy};
use contact_sync::model::RunStatus;
use contact_sync::store::{DynamoStore, SyncStore, create_table};
use contact_sync_tests::runtime_api::{FunctionProcess, Outcome, RuntimeApi, build_binaries};
use contact_sync_tests::sam_template::{
    Route, SamFunction, SamTemplate, function_crates, resolve, workspace_root,
};
use google_emulator::{EmulatorOptions, Seed};
use serde_json::{Value, json};

const ADMIN: &str = "admin@example.com";
const SOURCE: &str = "sales@example.com";
const DESTINATION: &str = "bob@example.com";
const GROUP: &str = "Sales Contacts";
const CALLER_ARN: &str = "arn:aws:sts::123456789012:assumed-role/ContactSyncAdmin/jane";
/// How long one invocation may take before the test gives up on it.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(90);

fn moto_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: these tests need moto. Run them with `make test` \
             (it starts a private moto server and exports AWS_ENDPOINT_URL and dummy credentials)."
        ),
    }
}

fn seed() -> Result<Seed> {
    let seed = json!({
        "users": [
            {"email": ADMIN, "given_name": "Alex", "family_name": "Admin", "is_admin": true},
            {"email": SOURCE, "given_name": "Sam", "family_name": "Sales"},
            {"email": DESTINATION, "given_name": "Bob", "family_name": "Builder"}
        ],
        "contact_groups": {SOURCE: [{"name": GROUP, "contacts": [
            {"names": [{"givenName": "Carol", "familyName": "Client"}],
             "emailAddresses": [{"value": "carol@client.example.net"}]},
            {"names": [{"givenName": "Dan", "familyName": "Dealer"}],
             "phoneNumbers": [{"value": "+1 555 0100"}]}
        ]}]}
    });
    serde_json::from_value(seed).context("the test's emulator seed")
}

/// moto resources and the emulator for one test, and the names template.yaml's intrinsics resolve to.
struct Stack {
    emulator: google_emulator::RunningEmulator,
    store: DynamoStore,
    /// Values of `!Ref`/`!Sub` names: parameters, resources, pseudo parameters.
    names: BTreeMap<String, String>,
    /// AWS settings every process gets (Lambda sets region and credentials; moto needs the endpoint).
    aws_env: BTreeMap<String, String>,
    template: SamTemplate,
}

impl Stack {
    async fn start() -> Result<Self> {
        let endpoint = moto_endpoint();
        let emulator = google_emulator::start(EmulatorOptions {
            seed: Some(seed()?),
            ..EmulatorOptions::default()
        })
        .await?;
        let sdk = contact_sync::aws::load_config().await;
        let stack_name = format!("rt{}", ulid::Ulid::generate()).to_lowercase();

        let table = format!("{stack_name}-table");
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        create_table(&dynamo, &table).await?;
        let store = DynamoStore::new(dynamo, &table);

        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let secret_arn = secrets
            .create_secret()
            .name(format!("{stack_name}-google-key"))
            .secret_string(emulator.service_account_key_json())
            .send()
            .await
            .context("creating the key secret in moto")?
            .arn
            .ok_or_else(|| anyhow!("moto returned no secret ARN"))?;

        let executor = format!("{stack_name}-executor");
        create_moto_function(&sdk, &endpoint, &executor).await?;

        let template = SamTemplate::load_workspace()?;
        let mut names = BTreeMap::new();
        for (name, parameter) in template.section("Parameters").into_iter().flatten() {
            if let (Some(name), Some(default)) = (name.as_str(), parameter.get("Default")) {
                let value = match default {
                    serde_yaml::Value::String(s) => s.clone(),
                    serde_yaml::Value::Number(n) => n.to_string(),
                    other => bail!("parameter {name}: unexpected default {other:?}"),
                };
                names.insert(name.to_owned(), value);
            }
        }
        let google = emulator.base_url();
        for (name, value) in [
            ("GoogleAdminEmail", ADMIN.to_owned()),
            ("PeopleApiBaseUrl", google.clone()),
            ("DirectoryApiBaseUrl", google),
            ("SyncTable", table),
            ("GoogleKeySecret", secret_arn),
            ("ExecutorFunction", executor),
            ("AWS::StackName", stack_name),
            ("AWS::Region", "us-east-1".to_owned()),
            ("AWS::AccountId", "123456789012".to_owned()),
        ] {
            names.insert(name.to_owned(), value);
        }

        let mut aws_env = BTreeMap::new();
        aws_env.insert("AWS_ENDPOINT_URL".to_owned(), endpoint);
        for (name, fallback) in [
            ("AWS_REGION", "us-east-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_SESSION_TOKEN", "testing"),
        ] {
            let value = std::env::var(name).unwrap_or_else(|_| fallback.to_owned());
            aws_env.insert(name.to_owned(), value);
        }
        Ok(Stack {
            emulator,
            store,
            names,
            aws_env,
            template,
        })
    }

    /// The function's environment as template.yaml declares it, resolved for this stack.
    fn template_env(&self, function: &SamFunction) -> Result<BTreeMap<String, String>> {
        let mut env = BTreeMap::new();
        for (name, value) in &function.environment {
            let value = resolve(value, &self.names)
                .with_context(|| format!("{}: variable {name}", function.logical_id))?;
            env.insert(name.clone(), value);
        }
        Ok(env)
    }

    /// The variables Lambda sets from the function's `LoggingConfig`: its log format and application log level.
    fn logging_env(&self, function: &SamFunction) -> Result<BTreeMap<String, String>> {
        let mut env = BTreeMap::new();
        let Some(config) = function.property("LoggingConfig") else {
            return Ok(env);
        };
        for (variable, field) in [
            (vars::AWS_LAMBDA_LOG_FORMAT, "LogFormat"),
            (vars::AWS_LAMBDA_LOG_LEVEL, "ApplicationLogLevel"),
        ] {
            if let Some(value) = config.get(field) {
                let value = resolve(value, &self.names)
                    .with_context(|| format!("{}: LoggingConfig.{field}", function.logical_id))?;
                env.insert(variable.to_owned(), value);
            }
        }
        Ok(env)
    }

    /// The process environment: the template's variables, Lambda's logging variables and the AWS settings.
    fn process_env(&self, function: &SamFunction) -> Result<BTreeMap<String, String>> {
        let mut env = self.template_env(function)?;
        env.extend(self.logging_env(function)?);
        env.extend(self.aws_env.clone());
        Ok(env)
    }

    /// An API context in this process, for setting data up through the same operations the API uses.
    async fn api_context(&self) -> Result<ApiContext> {
        let sdk = contact_sync::aws::load_config().await;
        let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
        let google = GoogleClients::from_secret(
            &secrets,
            &GoogleConfig {
                key_secret_id: self.names["GoogleKeySecret"].clone(),
                admin_email: ADMIN.to_owned(),
                endpoints: GoogleEndpoints::all_at(&self.emulator.base_url()),
            },
            RetryPolicy::default(),
        )
        .await?;
        Ok(ApiContext::new(
            Arc::new(self.store.clone()),
            google.people,
            google.directory,
            Arc::new(LambdaDispatcher::from_sdk_config(
                &sdk,
                self.names["ExecutorFunction"].clone(),
            )),
        ))
    }
}

/// An executor stand-in in moto, so asynchronous invokes of `EXECUTOR_FUNCTION_NAME` are accepted (202).
async fn create_moto_function(
    sdk: &aws_config::SdkConfig,
    endpoint: &str,
    name: &str,
) -> Result<()> {
    // moto checks that the role exists; IAM's query API, unsigned (moto routes by the credential scope).
    let role = format!("{name}-role");
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let response = reqwest::Client::new()
        .post(format!("{}/", endpoint.trim_end_matches('/')))
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, \
             SignedHeaders=host, Signature=0",
        )
        .form(&[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", role.as_str()),
            ("AssumeRolePolicyDocument", &trust.to_string()),
        ])
        .send()
        .await?;
    ensure!(
        response.status().is_success(),
        "moto CreateRole: {}",
        response.status()
    );
    // An empty zip archive: moto stores the code without running it.
    let mut empty_zip = b"PK\x05\x06".to_vec();
    empty_zip.extend_from_slice(&[0; 18]);
    aws_sdk_lambda::Client::new(sdk)
        .create_function()
        .function_name(name)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("bootstrap")
        .role(format!("arn:aws:iam::123456789012:role/{role}"))
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(empty_zip))
                .build(),
        )
        .send()
        .await
        .context("creating the executor stand-in in moto")?;
    Ok(())
}

// ---- events ---------------------------------------------------------------------------------------------------

/// An HTTP request to one of the function's template routes.
struct ApiRequest {
    method: &'static str,
    /// The route as declared (`/syncs/{id}`).
    route: &'static str,
    path_params: Vec<(&'static str, String)>,
    query: Vec<(&'static str, String)>,
    headers: Vec<(&'static str, String)>,
    body: Option<Value>,
}

impl ApiRequest {
    fn new(method: &'static str, route: &'static str) -> Self {
        ApiRequest {
            method,
            route,
            path_params: Vec::new(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        }
    }
    fn path(mut self, name: &'static str, value: &str) -> Self {
        self.path_params.push((name, value.to_owned()));
        self
    }
    fn query(mut self, name: &'static str, value: &str) -> Self {
        self.query.push((name, value.to_owned()));
        self
    }
    fn header(mut self, name: &'static str, value: &str) -> Self {
        self.headers.push((name, value.to_owned()));
        self
    }
    fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The API Gateway HTTP API (payload 2.0) event for this request, with an IAM-authorised caller.
    fn event(&self) -> Value {
        let mut path = self.route.to_owned();
        let mut path_parameters = serde_json::Map::new();
        for (name, value) in &self.path_params {
            path = path.replace(&format!("{{{name}}}"), &urlencoding::encode(value));
            path_parameters.insert((*name).to_owned(), json!(value));
        }
        let raw_query = self
            .query
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencoding::encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let query: serde_json::Map<String, Value> = self
            .query
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let mut headers = serde_json::Map::new();
        for (name, value) in [
            ("accept", "application/json"),
            ("host", "abc123defg.execute-api.us-east-1.amazonaws.com"),
            ("user-agent", "awscurl/0.36"),
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ] {
            headers.insert(name.to_owned(), json!(value));
        }
        if self.body.is_some() {
            headers.insert("content-type".to_owned(), json!("application/json"));
        }
        for (name, value) in &self.headers {
            headers.insert((*name).to_owned(), json!(value));
        }
        let route_key = format!("{} {}", self.method, self.route);
        let now = chrono::Utc::now();
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": path,
            "rawQueryString": raw_query,
            "headers": headers,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "abc123defg",
                "authorizer": {"iam": {
                    "accessKey": "ASIAEXAMPLEEXAMPLE01",
                    "accountId": "123456789012",
                    "callerId": "AROAEXAMPLEEXAMPLE01:jane",
                    "cognitoIdentity": null,
                    "principalOrgId": "o-example01",
                    "userArn": CALLER_ARN,
                    "userId": "AROAEXAMPLEEXAMPLE01:jane"
                }},
                "domainName": "abc123defg.execute-api.us-east-1.amazonaws.com",
                "domainPrefix": "abc123defg",
                "http": {
                    "method": self.method,
                    "path": path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": "203.0.113.7",
                    "userAgent": "awscurl/0.36"
                },
                "requestId": format!("{}", ulid::Ulid::generate()),
                "routeKey": route_key,
                "stage": "$default",
                "time": now.format("%d/%b/%Y:%H:%M:%S +0000").to_string(),
                "timeEpoch": now.timestamp_millis()
            },
            "isBase64Encoded": false
        });
        if !query.is_empty() {
            event["queryStringParameters"] = Value::Object(query);
        }
        if !path_parameters.is_empty() {
            event["pathParameters"] = Value::Object(path_parameters);
        }
        if let Some(body) = &self.body {
            event["body"] = json!(body.to_string());
        }
        event
    }
}

/// The EventBridge "Scheduled Event" a schedule rule delivers.
fn scheduled_event() -> Value {
    json!({
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/contact-sync-SchedulerFunctionDaily"],
        "detail": {}
    })
}

/// An API response as the function returned it.
#[derive(Debug)]
struct HttpResponse {
    status: u64,
    headers: BTreeMap<String, String>,
    body: Value,
}

fn http_response(outcome: &Outcome) -> Result<HttpResponse> {
    let response = outcome.response_json()?;
    let status = response["statusCode"]
        .as_u64()
        .ok_or_else(|| anyhow!("no statusCode in {response}"))?;
    let headers = response["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.to_ascii_lowercase(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    let body = match response["body"].as_str() {
        None | Some("") => Value::Null,
        Some(text) => serde_json::from_str(text)
            .with_context(|| format!("response body is not JSON: {text}"))?,
    };
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

// ---- running one binary ----------------------------------------------------------------------------------------

/// Starts `binary` with the template's environment for its function and hands it `events`, one after another
/// (the second and later ones reach a warm instance). Returns the outcomes; the process is killed afterwards.
async fn invoke(
    stack: &Stack,
    binaries: &BTreeMap<String, PathBuf>,
    name: &str,
    events: Vec<Value>,
) -> Result<Vec<Outcome>> {
    let function = stack
        .template
        .function_for_binary(name)?
        .ok_or_else(|| anyhow!("template.yaml has no function for {name}"))?;
    let binary = binaries
        .get(name)
        .ok_or_else(|| anyhow!("{name} was not built"))?;
    let api = RuntimeApi::start(name).await?;
    let process = FunctionProcess::spawn(binary, &api, name, &stack.process_env(&function)?)?;
    let mut outcomes = Vec::new();
    let mut failure = None;
    for event in events {
        let request_id = api.invoke(event)?;
        match api.next_outcome(INVOCATION_TIMEOUT).await {
            Some(outcome) => {
                let matches = match &outcome {
                    Outcome::Response { request_id: id, .. }
                    | Outcome::Error { request_id: id, .. } => *id == request_id,
                    Outcome::InitError { .. } => false,
                };
                let stop = !matches!(outcome, Outcome::Response { .. });
                if !matches {
                    failure = Some(format!("unexpected outcome: {}", outcome.describe()));
                }
                outcomes.push(outcome);
                if stop || failure.is_some() {
                    break;
                }
            }
            None => {
                failure = Some(format!(
                    "no answer within {INVOCATION_TIMEOUT:?} (polls of /next: {})",
                    api.polls()
                ));
                break;
            }
        }
    }
    let output = process.finish(Duration::from_millis(200)).await?;
    if let Some(failure) = failure {
        bail!(
            "{name}: {failure}\n--- stdout\n{}\n--- stderr\n{}",
            output.stdout,
            output.stderr
        );
    }
    if let Some(Outcome::Error { .. }) = outcomes.last() {
        eprintln!(
            "{name} returned an invocation error; its output:\n{}\n{}",
            output.stdout, output.stderr
        );
    }
    Ok(outcomes)
}

async fn invoke_one(
    stack: &Stack,
    binaries: &BTreeMap<String, PathBuf>,
    name: &str,
    event: Value,
) -> Result<Outcome> {
    invoke(stack, binaries, name, vec![event])
        .await?
        .pop()
        .ok_or_else(|| anyhow!("{name}: no outcome"))
}

/// Invokes an API function with one request (checked against the function's template routes).
async fn call(
    stack: &Stack,
    binaries: &BTreeMap<String, PathBuf>,
    name: &str,
    request: &ApiRequest,
) -> Result<HttpResponse> {
    check_route(stack, name, request)?;
    let outcome = invoke_one(stack, binaries, name, request.event()).await?;
    http_response(&outcome)
}

fn check_route(stack: &Stack, name: &str, request: &ApiRequest) -> Result<()> {
    let function = stack
        .template
        .function_for_binary(name)?
        .ok_or_else(|| anyhow!("no template function for {name}"))?;
    let route = Route {
        method: request.method.to_owned(),
        path: request.route.to_owned(),
    };
    ensure!(
        function.routes.contains(&route),
        "{name} does not serve {route:?} in template.yaml"
    );
    Ok(())
}

fn expect_status(name: &str, response: &HttpResponse, status: u64) -> Result<()> {
    ensure!(
        response.status == status,
        "{name}: expected HTTP {status}, got {} with {}",
        response.status,
        response.body
    );
    Ok(())
}

// ---- the scenarios ---------------------------------------------------------------------------------------------

/// The binaries to exercise: every crate under functions/, built (debug) by cargo. A crate that does not compile
/// is reported as a failure and the others are still exercised.
fn available_binaries() -> Result<Built> {
    let crates = function_crates()?;
    let root = workspace_root();
    if let Ok(all) = build_binaries(&root, &crates) {
        return Ok((all, Vec::new()));
    }
    let mut built = BTreeMap::new();
    let mut failures = Vec::new();
    for name in &crates {
        match build_binaries(&root, std::slice::from_ref(name)) {
            Ok(one) => built.extend(one),
            Err(e) => failures.push(format!("{name}: does not build: {e:#}")),
        }
    }
    Ok((built, failures))
}

type Built = (BTreeMap<String, PathBuf>, Vec<String>);

/// [`available_binaries`] once per test process (the tests here share the build).
fn built_binaries() -> Result<Built> {
    static BUILT: std::sync::OnceLock<Result<Built, String>> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| available_binaries().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(|e| anyhow!(e))
}

fn report_missing(binaries: &BTreeMap<String, PathBuf>, template: &SamTemplate) -> Result<()> {
    for f in template.functions()? {
        if let Some(binary) = &f.binary
            && !binaries.contains_key(binary)
        {
            eprintln!(
                "note: {} ({binary}) has no crate under functions/ yet; not exercised",
                f.logical_id
            );
        }
    }
    Ok(())
}

/// Runs `scenario` for `name` if that binary exists, collecting its failure instead of stopping.
async fn step(
    binaries: &BTreeMap<String, PathBuf>,
    failures: &mut Vec<String>,
    done: &mut Vec<String>,
    name: &str,
    scenario: impl std::future::Future<Output = Result<()>>,
) {
    if !binaries.contains_key(name) {
        return;
    }
    match scenario.await {
        Ok(()) => done.push(name.to_owned()),
        Err(e) => failures.push(format!("{name}: {e:#}")),
    }
}

#[tokio::test]
async fn every_function_binary_answers_a_real_event_under_the_runtime_api() -> Result<()> {
    let stack = Stack::start().await?;
    let (binaries, build_failures) = tokio::task::spawn_blocking(built_binaries).await??;
    report_missing(&binaries, &stack.template)?;

    // A sync made through the API operations in-process, so every binary has data whatever else exists.
    let ctx = stack.api_context().await?;
    let created = contact_sync::api::ops::create_sync(
        &ctx,
        "setup",
        serde_json::from_value(json!({
            "name": "Runtime API test",
            "source_user": SOURCE,
            "contact_group": GROUP,
            "destinations": [{"type": "user", "value": DESTINATION}],
            "run_immediately": false
        }))?,
    )
    .await
    .map_err(|e| anyhow!("setting up a sync: {e:?}"))?;
    let sync_id = created.sync.id.clone();

    let mut failures = build_failures;
    let mut done = Vec::new();
    let (b, f, d) = (&binaries, &mut failures, &mut done);

    step(b, f, d, "list-contact-groups", async {
        let response = call(
            &stack,
            b,
            "list-contact-groups",
            &ApiRequest::new("GET", "/users/{user}/contact-groups").path("user", SOURCE),
        )
        .await?;
        expect_status("list-contact-groups", &response, 200)?;
        let names: Vec<_> = response.body["contact_groups"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| g["name"].as_str())
            .collect();
        ensure!(names.contains(&GROUP), "groups: {}", response.body);
        Ok(())
    })
    .await;

    step(b, f, d, "search-directory", async {
        let response = call(
            &stack,
            b,
            "search-directory",
            &ApiRequest::new("GET", "/directory/search").query("q", "bob"),
        )
        .await?;
        expect_status("search-directory", &response, 200)?;
        ensure!(
            response.body["results"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["display"] == DESTINATION),
            "results: {}",
            response.body
        );
        Ok(())
    })
    .await;

    // create-sync with run_immediately: stored, and exactly one run started (dispatched to the executor).
    let mut created_id = None;
    step(b, f, d, "create-sync", async {
        let response = call(
            &stack,
            b,
            "create-sync",
            &ApiRequest::new("POST", "/syncs").body(json!({
                "name": "Created by the create-sync binary",
                "source_user": SOURCE,
                "contact_group": GROUP,
                "destinations": [{"type": "user", "value": DESTINATION}]
            })),
        )
        .await?;
        expect_status("create-sync", &response, 201)?;
        let id = response.body["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no id in {}", response.body))?
            .to_owned();
        ensure!(
            response.headers.get("location") == Some(&format!("/syncs/{id}")),
            "Location header: {:?}",
            response.headers
        );
        ensure!(
            response.body["created_by"] == CALLER_ARN,
            "created_by: {}",
            response.body
        );
        let run_id = response.body["run_id"]
            .as_str()
            .ok_or_else(|| anyhow!("run_immediately started no run: {}", response.body))?;
        let runs = stack.store.list_runs(&id, 10, None).await?;
        ensure!(
            runs.items.len() == 1 && runs.items[0].run_id == run_id,
            "exactly one run: {:?}",
            runs.items
        );
        created_id = Some(id);
        Ok(())
    })
    .await;

    step(b, f, d, "list-syncs", async {
        let response = call(
            &stack,
            b,
            "list-syncs",
            &ApiRequest::new("GET", "/syncs").query("limit", "50"),
        )
        .await?;
        expect_status("list-syncs", &response, 200)?;
        ensure!(
            response.body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|s| s["id"] == sync_id.as_str()),
            "items: {}",
            response.body
        );
        Ok(())
    })
    .await;

    step(b, f, d, "get-sync", async {
        let response = call(
            &stack,
            b,
            "get-sync",
            &ApiRequest::new("GET", "/syncs/{id}").path("id", &sync_id),
        )
        .await?;
        expect_status("get-sync", &response, 200)?;
        ensure!(response.body["id"] == sync_id.as_str());
        ensure!(
            response.headers.get("etag").map(String::as_str) == Some("\"1\""),
            "ETag: {:?}",
            response.headers
        );
        Ok(())
    })
    .await;

    step(b, f, d, "update-sync", async {
        let response = call(
            &stack,
            b,
            "update-sync",
            &ApiRequest::new("PATCH", "/syncs/{id}")
                .path("id", &sync_id)
                .header("if-match", "\"1\"")
                .body(json!({"description": "updated through the runtime api"})),
        )
        .await?;
        expect_status("update-sync", &response, 200)?;
        ensure!(response.body["version"] == 2, "{}", response.body);
        ensure!(
            response.body["updated_by"] == CALLER_ARN,
            "{}",
            response.body
        );
        Ok(())
    })
    .await;

    // start-run (dry run), then the executor runs exactly that run, then get-runs shows it (two invocations of
    // one warm instance).
    let mut run_id = None;
    step(b, f, d, "start-run", async {
        let response = call(
            &stack,
            b,
            "start-run",
            &ApiRequest::new("POST", "/syncs/{id}/runs")
                .path("id", &sync_id)
                .body(json!({"dry_run": true})),
        )
        .await?;
        expect_status("start-run", &response, 202)?;
        run_id = Some(
            response.body["run_id"]
                .as_str()
                .ok_or_else(|| anyhow!("no run_id in {}", response.body))?
                .to_owned(),
        );
        Ok(())
    })
    .await;
    let run_id = match run_id {
        Some(id) => id,
        None => {
            // Without start-run, a run record for the executor to pick up, made the same way.
            contact_sync::api::ops::start_run(
                &ctx,
                "setup",
                &sync_id,
                serde_json::from_value(json!({"dry_run": true}))?,
            )
            .await
            .map_err(|e| anyhow!("starting a run in-process: {e:?}"))?
            .run_id
        }
    };

    step(b, f, d, "executor", async {
        let outcome = invoke_one(
            &stack,
            b,
            "executor",
            json!({"sync_id": sync_id, "run_id": run_id, "trigger": "manual", "mode": "dry_run",
                   "requested_by": CALLER_ARN}),
        )
        .await?;
        outcome.response_json()?;
        let run = stack
            .store
            .get_run(&sync_id, &run_id)
            .await?
            .ok_or_else(|| anyhow!("run {run_id} is gone"))?;
        ensure!(
            run.status == RunStatus::Succeeded,
            "the dry run should succeed: {run:?}"
        );
        let results = stack.store.list_results(&sync_id, &run_id).await?;
        ensure!(
            results.len() == 1 && results[0].email == DESTINATION,
            "one destination result for {DESTINATION}: {results:?}"
        );
        Ok(())
    })
    .await;

    step(b, f, d, "get-runs", async {
        let one = ApiRequest::new("GET", "/syncs/{id}/runs/{run_id}")
            .path("id", &sync_id)
            .path("run_id", &run_id);
        let list = ApiRequest::new("GET", "/syncs/{id}/runs").path("id", &sync_id);
        check_route(&stack, "get-runs", &one)?;
        check_route(&stack, "get-runs", &list)?;
        let outcomes = invoke(&stack, b, "get-runs", vec![one.event(), list.event()]).await?;
        ensure!(outcomes.len() == 2, "two answers: {outcomes:?}");
        let run = http_response(&outcomes[0])?;
        expect_status("get-runs (one run)", &run, 200)?;
        ensure!(run.body["run_id"] == run_id.as_str(), "{}", run.body);
        ensure!(run.body["results"].is_array(), "{}", run.body);
        let runs = http_response(&outcomes[1])?;
        expect_status("get-runs (history)", &runs, 200)?;
        ensure!(
            runs.body["items"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|r| r["run_id"] == run_id.as_str()),
            "{}",
            runs.body
        );
        Ok(())
    })
    .await;

    step(b, f, d, "scheduler", async {
        let mut enabled = 0;
        let mut token = None;
        loop {
            let page = stack.store.list_syncs(100, token.as_deref()).await?;
            enabled += page.items.iter().filter(|s| s.enabled).count();
            match page.next_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        let outcome = invoke_one(&stack, b, "scheduler", scheduled_event()).await?;
        let summary = outcome.response_json()?;
        ensure!(
            summary == json!({"dispatched": enabled, "skipped": 0, "failed": 0}),
            "every enabled sync ({enabled}) dispatched to the executor: {summary}"
        );
        Ok(())
    })
    .await;

    step(b, f, d, "delete-sync", async {
        let target = created_id.clone().unwrap_or_else(|| sync_id.clone());
        let response = call(
            &stack,
            b,
            "delete-sync",
            &ApiRequest::new("DELETE", "/syncs/{id}")
                .path("id", &target)
                .query("remove_contacts", "false"),
        )
        .await?;
        expect_status("delete-sync", &response, 204)?;
        ensure!(
            stack.store.get_sync(&target).await?.is_none(),
            "sync {target} still exists"
        );
        Ok(())
    })
    .await;

    // Binaries this test does not know yet: their first template route must answer without a server error.
    let known = [
        "list-contact-groups",
        "search-directory",
        "create-sync",
        "list-syncs",
        "get-sync",
        "update-sync",
        "start-run",
        "executor",
        "get-runs",
        "scheduler",
        "delete-sync",
    ];
    for name in binaries.keys().filter(|n| !known.contains(&n.as_str())) {
        let result: Result<()> = async {
            let function = stack
                .template
                .function_for_binary(name)?
                .ok_or_else(|| anyhow!("no template function"))?;
            let route = function.routes.first().ok_or_else(|| {
                anyhow!("not an API function and no scenario: add one to this test")
            })?;
            let mut event = ApiRequest::new("GET", "/").event();
            let path = route.path.replace(['{', '}'], "");
            event["routeKey"] = json!(format!("{} {}", route.method, route.path));
            event["rawPath"] = json!(path);
            event["requestContext"]["http"]["method"] = json!(route.method);
            event["requestContext"]["http"]["path"] = json!(path);
            let response = http_response(&invoke_one(&stack, b, name, event).await?)?;
            ensure!(
                response.status < 500,
                "HTTP {}: {}",
                response.status,
                response.body
            );
            Ok(())
        }
        .await;
        match result {
            Ok(()) => d.push(name.clone()),
            Err(e) => f.push(format!("{name}: {e:#}")),
        }
    }

    eprintln!("exercised under the Runtime API: {done:?}");
    if !failures.is_empty() {
        bail!(
            "{} binaries failed:\n{}",
            failures.len(),
            failures.join("\n\n")
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_missing_required_variable_fails_start_up_naming_it() -> Result<()> {
    let stack = Stack::start().await?;
    let (binaries, mut failures) = tokio::task::spawn_blocking(built_binaries).await??;
    for (name, binary) in &binaries {
        let Some(function) = stack.template.function_for_binary(name)? else {
            failures.push(format!("{name}: not in template.yaml"));
            continue;
        };
        let declared = stack.template_env(&function)?;
        // Only the AWS settings: every variable the template declares is missing.
        let api = RuntimeApi::start(name).await?;
        let mut process = FunctionProcess::spawn(binary, &api, name, &stack.aws_env)?;
        // Until it exits, reports an init error or polls for an event (which it must not), at most 30 s.
        let mut early = None;
        for _ in 0..300 {
            early = api.next_outcome(Duration::from_millis(100)).await;
            if early.is_some() || api.polls() > 0 || process.try_exit_status()?.is_some() {
                break;
            }
        }
        let output = process.finish(Duration::from_secs(5)).await?;
        let polled = api.polls() > 0;
        let report = format!(
            "{}\n{}\n{}",
            early.as_ref().map(Outcome::describe).unwrap_or_default(),
            output.stdout,
            output.stderr
        );
        let named = declared.keys().find(|v| report.contains(v.as_str()));
        let exited_with_error = output.status.is_some_and(|s| !s.success());
        let init_error = matches!(early, Some(Outcome::InitError { .. }));
        if polled || !(exited_with_error || init_error) || named.is_none() {
            failures.push(format!(
                "{name}: without its configuration it should stop before polling for events and name the \
                 missing variable (polled: {polled}, exit: {:?}, init error: {init_error}); output:\n{report}",
                output.status
            ));
        }
    }
    ensure!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}
