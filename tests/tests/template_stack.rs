//! template.yaml against the API's route table, the function crates under functions/ and the configuration
//! variables the code reads (contact_sync::config). (`make lint` runs cfn-lint and `sam validate --lint` on the same file.)

use std::collections::{BTreeMap, BTreeSet};

use contact_sync_tests::sam_template::{
    Route, SamFunction, SamTemplate, function_crates, workspace_root,
};
use serde_yaml::Value;

/// The API's endpoints (README, docs/openapi.json): method, path, function crate.
const API_ROUTES: &[(&str, &str, &str)] = &[
    ("POST", "/syncs", "create-sync"),
    ("GET", "/syncs", "list-syncs"),
    ("GET", "/syncs/{id}", "get-sync"),
    ("PATCH", "/syncs/{id}", "update-sync"),
    ("DELETE", "/syncs/{id}", "delete-sync"),
    ("POST", "/syncs/{id}/runs", "start-run"),
    ("GET", "/syncs/{id}/runs", "get-runs"),
    ("GET", "/syncs/{id}/runs/{run_id}", "get-runs"),
    ("GET", "/directory/search", "search-directory"),
    ("GET", "/users/{user}/contact-groups", "list-contact-groups"),
];

/// The functions that serve no route.
const OTHER_FUNCTIONS: &[&str] = &["scheduler", "executor"];

/// The configuration variables the functions read. Logging is not among them: Lambda sets its variables from
/// `LoggingConfig`. `AWS_ENDPOINT_URL` is moto-only and must never appear in the template.
const CONFIG_VARIABLES: &[&str] = &[
    "TABLE_NAME",
    "GOOGLE_KEY_SECRET_ID",
    "GOOGLE_ADMIN_EMAIL",
    "PEOPLE_API_BASE_URL",
    "DIRECTORY_API_BASE_URL",
    "EXECUTOR_FUNCTION_NAME",
    "EXECUTOR_CONCURRENCY",
];

/// The values Lambda accepts for `LoggingConfig.ApplicationLogLevel`.
const LAMBDA_APPLICATION_LOG_LEVELS: &[&str] =
    &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

/// The functions allowed to invoke the executor.
const DISPATCHERS: &[&str] = &[
    "create-sync",
    "start-run",
    "delete-sync",
    "scheduler",
    "executor",
];

fn template() -> SamTemplate {
    SamTemplate::load_workspace().expect("template.yaml parses")
}

fn functions() -> Vec<SamFunction> {
    template().functions().expect("functions parse")
}

fn binary(f: &SamFunction) -> &str {
    f.binary
        .as_deref()
        .unwrap_or_else(|| panic!("{} has no Metadata.BuildProperties.Binary", f.logical_id))
}

fn tag_name(value: &Value) -> Option<String> {
    match value {
        Value::Tagged(t) => Some(t.tag.to_string().trim_start_matches('!').to_owned()),
        _ => None,
    }
}

#[test]
fn http_api_routes_match_the_api_table_one_to_one() {
    let mut declared: BTreeMap<Route, String> = BTreeMap::new();
    for f in functions() {
        for route in &f.routes {
            let previous = declared.insert(route.clone(), binary(&f).to_owned());
            assert!(previous.is_none(), "route {route:?} declared twice");
        }
    }
    let expected: BTreeMap<Route, String> = API_ROUTES
        .iter()
        .map(|(method, path, function)| {
            (
                Route {
                    method: (*method).to_owned(),
                    path: (*path).to_owned(),
                },
                (*function).to_owned(),
            )
        })
        .collect();
    assert_eq!(
        declared, expected,
        "template routes differ from the API's endpoints"
    );

    // Every route is on the one HttpApi, whose default authorizer is AWS_IAM.
    let t = template();
    let apis = t.resources_of_type("AWS::Serverless::HttpApi");
    assert_eq!(apis.len(), 1, "exactly one HttpApi");
    let (api_id, api) = &apis[0];
    let auth = &api["Properties"]["Auth"];
    assert_eq!(auth["DefaultAuthorizer"].as_str(), Some("AWS_IAM"));
    assert_eq!(auth["EnableIamAuthorizer"].as_bool(), Some(true));
    for f in functions() {
        for (name, event) in f
            .property("Events")
            .and_then(Value::as_mapping)
            .into_iter()
            .flatten()
        {
            if event["Type"].as_str() != Some("HttpApi") {
                continue;
            }
            let api_ref = &event["Properties"]["ApiId"];
            assert_eq!(
                tag_name(api_ref).as_deref(),
                Some("Ref"),
                "{}.{name:?}: ApiId must be !Ref {api_id}",
                f.logical_id
            );
            if let Value::Tagged(t) = api_ref {
                assert_eq!(t.value.as_str(), Some(api_id.as_str()));
            }
            assert!(
                event["Properties"].get("Auth").is_none(),
                "{}.{name:?} must not override the IAM authorizer",
                f.logical_id
            );
        }
    }
}

#[test]
fn every_function_crate_is_in_the_template_once_and_every_template_binary_is_a_crate() {
    let crates: BTreeSet<String> = function_crates()
        .expect("functions/ lists")
        .into_iter()
        .collect();
    let mut binaries = BTreeSet::new();
    for f in functions() {
        assert!(
            binaries.insert(binary(&f).to_owned()),
            "{} built twice",
            binary(&f)
        );
    }
    let designed: BTreeSet<String> = API_ROUTES
        .iter()
        .map(|(_, _, f)| *f)
        .chain(OTHER_FUNCTIONS.iter().copied())
        .map(str::to_owned)
        .collect();
    assert_eq!(
        binaries, designed,
        "template functions differ from the API functions plus the scheduler and the executor"
    );
    let missing: Vec<_> = binaries.difference(&crates).collect();
    assert!(
        missing.is_empty(),
        "template functions without a crate under functions/: {missing:?}"
    );
    let undeployed: Vec<_> = crates.difference(&binaries).collect();
    assert!(
        undeployed.is_empty(),
        "crates under functions/ missing from template.yaml: {undeployed:?}"
    );
    // Each crate's package (and so its binary) carries the directory's name.
    for name in &crates {
        let dir = workspace_root().join("functions").join(name);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).expect("manifest");
        assert!(
            manifest
                .lines()
                .any(|l| l.replace(' ', "") == format!("name=\"{name}\"")),
            "functions/{name}/Cargo.toml must name the package {name}"
        );
        assert!(
            dir.join("src/main.rs").is_file(),
            "functions/{name} is a binary crate"
        );
    }
}

#[test]
fn every_function_is_an_arm64_cargo_lambda_build_with_json_logs_and_tracing() {
    for f in functions() {
        let id = &f.logical_id;
        assert_eq!(
            f.build_method.as_deref(),
            Some("rust-cargolambda"),
            "{id} BuildMethod"
        );
        assert_eq!(
            f.property("Runtime").and_then(Value::as_str),
            Some("provided.al2023"),
            "{id} Runtime"
        );
        assert_eq!(
            f.property("Handler").and_then(Value::as_str),
            Some("bootstrap"),
            "{id} Handler"
        );
        assert_eq!(
            f.property("CodeUri").and_then(Value::as_str),
            Some("."),
            "{id} CodeUri (the workspace root; the binary is selected by BuildProperties.Binary)"
        );
        let arch: Vec<_> = f
            .property("Architectures")
            .and_then(Value::as_sequence)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(arch, ["arm64"], "{id} Architectures");
        assert_eq!(
            f.property("Tracing").and_then(Value::as_str),
            Some("Active"),
            "{id} Tracing"
        );
        let logging = f.property("LoggingConfig").expect("LoggingConfig");
        assert_eq!(
            logging["LogFormat"].as_str(),
            Some("JSON"),
            "{id} LogFormat"
        );
        let timeout = f
            .property("Timeout")
            .and_then(Value::as_u64)
            .expect("Timeout");
        let limit = if f.routes.is_empty() { 900 } else { 30 };
        assert!(
            (1..=limit).contains(&timeout),
            "{id} Timeout {timeout} over {limit}"
        );
        assert!(f.property("MemorySize").and_then(Value::as_u64).is_some());
    }
}

#[test]
fn every_function_logs_json_at_the_log_level_parameter_through_globals() {
    let t = template();
    let logging = &t.root["Globals"]["Function"]["LoggingConfig"];
    assert_eq!(
        logging["LogFormat"].as_str(),
        Some("JSON"),
        "Globals LogFormat"
    );
    let level = &logging["ApplicationLogLevel"];
    assert_eq!(
        tag_name(level).as_deref(),
        Some("Ref"),
        "Globals ApplicationLogLevel must be !Ref LogLevel"
    );
    if let Value::Tagged(level) = level {
        assert_eq!(level.value.as_str(), Some("LogLevel"));
    }
    let system = logging["SystemLogLevel"].as_str();
    assert!(
        system.is_some_and(|l| ["DEBUG", "INFO", "WARN"].contains(&l)),
        "Globals SystemLogLevel {system:?}"
    );
    // No function replaces the Globals' logging with its own.
    for (id, resource) in t.resources_of_type("AWS::Serverless::Function") {
        assert!(
            resource["Properties"].get("LoggingConfig").is_none(),
            "{id} sets its own LoggingConfig"
        );
    }
    // Every level the parameter allows is one Lambda accepts and the functions understand.
    let parameter = &t.section("Parameters").expect("parameters")["LogLevel"];
    let allowed: Vec<&str> = parameter["AllowedValues"]
        .as_sequence()
        .expect("LogLevel AllowedValues")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(!allowed.is_empty());
    for value in &allowed {
        assert!(
            LAMBDA_APPLICATION_LOG_LEVELS.contains(value),
            "LogLevel allows {value}, which Lambda does not accept"
        );
        assert!(
            contact_sync::telemetry::lambda_level(value).is_some(),
            "the functions do not understand the log level {value}"
        );
    }
    let default = parameter["Default"].as_str().expect("LogLevel Default");
    assert!(allowed.contains(&default), "LogLevel Default {default}");
}

#[test]
fn environment_uses_only_the_design_names_and_each_function_has_what_it_needs() {
    for f in functions() {
        let id = &f.logical_id;
        for name in f.environment.keys() {
            assert!(
                CONFIG_VARIABLES.contains(&name.as_str()),
                "{id}: {name} is not one of the configuration variables"
            );
        }
        let has = |v: &str| f.environment.contains_key(v);
        let templates = &f.policy_templates;
        let uses = |p: &str| templates.iter().any(|t| t == p);
        if uses("DynamoDBReadPolicy") || uses("DynamoDBCrudPolicy") {
            assert!(has("TABLE_NAME"), "{id} reads the table without TABLE_NAME");
        }
        if uses("AWSSecretsManagerGetSecretValuePolicy") {
            for v in [
                "GOOGLE_KEY_SECRET_ID",
                "GOOGLE_ADMIN_EMAIL",
                "PEOPLE_API_BASE_URL",
                "DIRECTORY_API_BASE_URL",
            ] {
                assert!(has(v), "{id} calls Google without {v}");
            }
        }
        assert_eq!(
            uses("LambdaInvokePolicy"),
            has("EXECUTOR_FUNCTION_NAME"),
            "{id}: EXECUTOR_FUNCTION_NAME exactly where the executor may be invoked"
        );
    }
}

#[test]
fn policies_are_least_privilege() {
    for f in functions() {
        let name = binary(&f);
        let id = &f.logical_id;
        let templates = &f.policy_templates;
        let uses = |p: &str| templates.iter().any(|t| t == p);
        for t in templates {
            assert!(
                [
                    "DynamoDBReadPolicy",
                    "DynamoDBCrudPolicy",
                    "AWSSecretsManagerGetSecretValuePolicy",
                    "LambdaInvokePolicy",
                ]
                .contains(&t.as_str()),
                "{id}: unexpected policy {t}"
            );
        }
        // Endpoints that only read never get write access to the table.
        let read_only_api = !f.routes.is_empty() && f.routes.iter().all(|r| r.method == "GET");
        if read_only_api {
            assert!(!uses("DynamoDBCrudPolicy"), "{id} is read-only");
        }
        assert!(
            !(uses("DynamoDBReadPolicy") && uses("DynamoDBCrudPolicy")),
            "{id}: one table policy"
        );
        assert_eq!(
            uses("LambdaInvokePolicy"),
            DISPATCHERS.contains(&name),
            "{id}: only the dispatching functions may invoke the executor"
        );
        if let Some(arg) = f.policy_argument("LambdaInvokePolicy", "FunctionName") {
            let target = match arg {
                Value::Tagged(t) if t.tag == "Ref" => t.value.as_str().map(str::to_owned),
                Value::Tagged(t) if t.tag == "Sub" => t
                    .value
                    .as_str()
                    .map(|s| s.replace("${AWS::StackName}", "STACK")),
                _ => None,
            };
            assert!(
                matches!(
                    target.as_deref(),
                    Some("ExecutorFunction" | "STACK-executor")
                ),
                "{id} may invoke only the executor, not {arg:?}"
            );
        }
        if let Some(arg) = f.policy_argument("AWSSecretsManagerGetSecretValuePolicy", "SecretArn") {
            assert!(
                matches!(arg, Value::Tagged(t) if t.tag == "Ref" && t.value.as_str() == Some("GoogleKeySecret")),
                "{id} may read only the Google key secret"
            );
        }
    }
    // No function may call Google without the key, and the scheduler never calls Google.
    let scheduler = functions()
        .into_iter()
        .find(|f| binary(f) == "scheduler")
        .expect("scheduler");
    assert!(
        !scheduler
            .policy_templates
            .iter()
            .any(|t| t == "AWSSecretsManagerGetSecretValuePolicy")
    );
}

#[test]
fn api_function_permissions_match_what_their_handlers_need() {
    for f in functions() {
        let name = binary(&f);
        let Some(needs) = contact_sync::api::api_function(name).map(|f| f.needs) else {
            assert!(
                f.routes.is_empty(),
                "{name} serves routes but is no API function"
            );
            continue;
        };
        let uses = |p: &str| f.policy_templates.iter().any(|t| t == p);
        assert_eq!(
            uses("AWSSecretsManagerGetSecretValuePolicy"),
            needs.google,
            "{name}: reads the Google key exactly when it calls Google"
        );
        assert_eq!(
            uses("LambdaInvokePolicy"),
            needs.dispatch,
            "{name}: invokes the executor exactly when it starts runs"
        );
    }
    for name in contact_sync::api::API_FUNCTIONS.map(|f| f.name) {
        assert!(
            functions()
                .iter()
                .any(|f| f.binary.as_deref() == Some(name)),
            "API function {name} is not in template.yaml"
        );
    }
}

#[test]
fn executor_is_throttled_retried_once_and_dead_lettered_and_invokes_itself_by_name() {
    let t = template();
    let executor = t
        .function_for_binary("executor")
        .expect("parse")
        .expect("executor function");
    let timeout = executor
        .property("Timeout")
        .and_then(Value::as_i64)
        .expect("Timeout");
    assert_eq!(timeout, 900);
    let reserved = executor
        .property("ReservedConcurrentExecutions")
        .expect("ReservedConcurrentExecutions");
    assert!(
        matches!(reserved, Value::Tagged(t) if t.tag == "Ref" && t.value.as_str() == Some("ExecutorReservedConcurrency"))
    );
    let config = executor
        .property("EventInvokeConfig")
        .expect("EventInvokeConfig");
    let retries = config["MaximumRetryAttempts"].as_u64().expect("retries");
    assert!(retries <= 2);
    // A run whose event never reached an executor is given up only once Lambda can no longer deliver it.
    let max_event_age = config["MaximumEventAgeInSeconds"]
        .as_i64()
        .expect("MaximumEventAgeInSeconds");
    assert!(
        max_event_age + timeout < contact_sync::sync::UNDELIVERED_RUN_AFTER_SECS,
        "an event {max_event_age} s old may still start the executor (for up to {timeout} s) after the engine gave its run \
         up ({} s)",
        contact_sync::sync::UNDELIVERED_RUN_AFTER_SECS
    );
    let on_failure = &config["DestinationConfig"]["OnFailure"];
    assert_eq!(on_failure["Type"].as_str(), Some("SQS"));
    assert!(
        matches!(&on_failure["Destination"], Value::Tagged(t) if t.tag == "GetAtt" && t.value.as_str() == Some("DeadLetterQueue.Arn"))
    );
    // The executor names itself without referring to its own resource (no circular dependency).
    let own_name = executor.property("FunctionName").expect("FunctionName");
    assert_eq!(
        Some(own_name),
        executor.environment.get("EXECUTOR_FUNCTION_NAME")
    );
    assert_eq!(tag_name(own_name).as_deref(), Some("Sub"));

    let resources = t.section("Resources").expect("resources");
    assert_eq!(
        resources["DeadLetterQueue"]["Type"].as_str(),
        Some("AWS::SQS::Queue")
    );
    let alarms = t.resources_of_type("AWS::CloudWatch::Alarm");
    let metric = |m: &str| {
        alarms
            .iter()
            .any(|(_, a)| a["Properties"]["MetricName"].as_str() == Some(m))
    };
    assert!(
        metric("ApproximateNumberOfMessagesVisible"),
        "DLQ depth alarm"
    );
    assert!(metric("Errors"), "executor errors alarm");
}

#[test]
fn scheduler_runs_on_the_schedule_parameter() {
    let t = template();
    let scheduler = t
        .function_for_binary("scheduler")
        .expect("parse")
        .expect("scheduler function");
    let events = scheduler
        .property("Events")
        .and_then(Value::as_mapping)
        .expect("events");
    let schedules: Vec<_> = events
        .values()
        .filter(|e| e["Type"].as_str() == Some("Schedule"))
        .collect();
    assert_eq!(schedules.len(), 1);
    assert!(
        matches!(&schedules[0]["Properties"]["Schedule"], Value::Tagged(t) if t.tag == "Ref" && t.value.as_str() == Some("ScheduleExpression"))
    );
}

#[test]
fn stack_has_the_parameters_outputs_table_and_secret() {
    let t = template();
    let parameters = t.section("Parameters").expect("parameters");
    for p in [
        "ScheduleExpression",
        "GoogleAdminEmail",
        "ExecutorConcurrency",
        "ExecutorReservedConcurrency",
        "LogLevel",
        "PeopleApiBaseUrl",
        "DirectoryApiBaseUrl",
        "AlarmEmail",
    ] {
        assert!(parameters.contains_key(p), "parameter {p}");
    }
    assert_eq!(
        parameters["PeopleApiBaseUrl"]["Default"].as_str(),
        Some(contact_sync::google::DEFAULT_PEOPLE_API_BASE_URL)
    );
    assert_eq!(
        parameters["DirectoryApiBaseUrl"]["Default"].as_str(),
        Some(contact_sync::google::DEFAULT_DIRECTORY_API_BASE_URL)
    );
    let outputs = t.section("Outputs").expect("outputs");
    for o in [
        "ApiUrl",
        "GoogleKeySecretArn",
        "TableName",
        "DeadLetterQueueUrl",
    ] {
        assert!(outputs.contains_key(o), "output {o}");
    }

    let resources = t.section("Resources").expect("resources");
    let table = &resources["SyncTable"]["Properties"];
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        table["TimeToLiveSpecification"]["Enabled"].as_bool(),
        Some(true)
    );
    assert_eq!(
        table["GlobalSecondaryIndexes"][0]["IndexName"].as_str(),
        Some("GSI1")
    );
    let secret = &resources["GoogleKeySecret"];
    assert_eq!(secret["Type"].as_str(), Some("AWS::SecretsManager::Secret"));
    assert!(
        secret["Properties"].get("SecretString").is_none()
            && secret["Properties"].get("GenerateSecretString").is_none(),
        "the secret is created empty; the admin puts the key in"
    );
}
