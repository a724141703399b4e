//! The rig of the executor's end-to-end tests: a Google emulator of its own, a DynamoDB table of its own in moto,
//! the emulator's key in moto's Secrets Manager, and the executor built by the same wiring as the Lambda's (key from
//! Secrets Manager, Google clients, DynamoStore), driven through the Lambda handler with a fake Lambda context, with
//! the in-process dispatcher for continuations.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use chrono::{DateTime, Utc};
use contact_sync::clock::Clock;
use contact_sync::config::Config;
use contact_sync::dispatch::Dispatcher;
use contact_sync::google::{
    DIRECTORY_SCOPES, GoogleClients, GoogleConfig, GoogleEndpoints, Person, RetryPolicy,
    ServiceAccountKey, TokenProvider,
};
use contact_sync::model::{
    Destination, DestinationKind, DestinationResult, ExecutorEvent, LeaverPolicy, Run, RunMode,
    Source, SyncDefinition, Trigger, new_id,
};
use contact_sync::store::{SyncStore, create_table};
use contact_sync::sync::markers;
use contact_sync::sync::normalize;
use contact_sync::sync::{Engine, EngineSettings, InProcessDispatcher, RunReport};
use contact_sync::{lambda, wiring};
use google_emulator::{EmulatorOptions, RunningEmulator, Seed};
use serde_json::{Value, json};

/// The admin the Directory client impersonates.
pub const ADMIN: &str = "admin@example.com";
/// The source user of most tests.
pub const SOURCE: &str = "src@example.com";

/// Method ids of People API writes, as the emulator counts them.
pub const PEOPLE_WRITES: &[&str] = &[
    "people.people.batchCreateContacts",
    "people.people.batchUpdateContacts",
    "people.people.batchDeleteContacts",
    "people.people.createContact",
    "people.people.updateContact",
    "people.people.deleteContact",
    "people.contactGroups.create",
    "people.contactGroups.update",
    "people.contactGroups.delete",
    "people.contactGroups.members.modify",
];

/// Scopes the test itself uses to change the directory (renames, moves, suspensions).
const DIRECTORY_WRITE_SCOPES: &[&str] = &[
    "https://www.googleapis.com/auth/admin.directory.user",
    "https://www.googleapis.com/auth/admin.directory.group",
    "https://www.googleapis.com/auth/admin.directory.group.member",
    "https://www.googleapis.com/auth/admin.directory.orgunit",
];

/// moto's endpoint, which `make test` exports; without it these tests cannot run.
pub fn moto_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: the executor tests need moto. Run them with `make test` \
             (it starts a private moto server and exports AWS_ENDPOINT_URL and dummy credentials)."
        ),
    }
}

/// How a rig is set up.
#[derive(Debug, Clone)]
pub struct RigOptions {
    pub emulator: EmulatorOptions,
    pub settings: EngineSettings,
    pub retry: RetryPolicy,
    /// The time each in-process continuation gets.
    pub continuation_time: Duration,
}

impl Default for RigOptions {
    fn default() -> Self {
        RigOptions {
            emulator: EmulatorOptions::default(),
            settings: EngineSettings {
                concurrency: 4,
                safety_margin: Duration::from_secs(1),
                lease_margin: Duration::from_secs(5),
                ..EngineSettings::default()
            },
            retry: RetryPolicy::fast(),
            continuation_time: Duration::from_secs(600),
        }
    }
}

/// One test's world.
pub struct Rig {
    pub emulator: RunningEmulator,
    pub engine: Arc<Engine>,
    pub dispatcher: Arc<InProcessDispatcher>,
    /// The same Google clients the engine uses (for the test's own reads and writes as any user).
    pub google: GoogleClients,
    pub store: Arc<dyn SyncStore>,
    pub config: Config,
    pub sdk: aws_config::SdkConfig,
    tokens: Arc<TokenProvider>,
    http: reqwest::Client,
}

impl Rig {
    pub async fn start(seed: Seed, options: RigOptions) -> Result<Rig> {
        moto_endpoint();
        contact_sync::telemetry::init();
        let mut emulator_options = options.emulator.clone();
        emulator_options.seed = Some(seed);
        let emulator = google_emulator::start(emulator_options).await?;
        let sdk = contact_sync::aws::load_config().await;

        let suffix = new_id().to_lowercase();
        let table = format!("executor-{suffix}");
        create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table).await?;
        let secret_id = format!("executor-key-{suffix}");
        aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(&secret_id)
            .secret_string(emulator.service_account_key_json())
            .send()
            .await
            .context("creating the key secret in moto")?;

        let config = Config {
            table_name: table.clone(),
            google: Some(GoogleConfig {
                key_secret_id: secret_id,
                admin_email: ADMIN.to_owned(),
                endpoints: GoogleEndpoints::all_at(&emulator.base_url()),
            }),
            executor_function_name: None,
            engine: options.settings.clone(),
        };
        let google = wiring::google_clients(&config, &sdk, options.retry.clone()).await?;
        let store = wiring::store(&config, &sdk);
        let (engine, dispatcher) = wiring::in_process_engine(
            &config,
            &google,
            Arc::clone(&store),
            options.continuation_time,
        );
        let http = reqwest::Client::new();
        let key = ServiceAccountKey::from_json(&emulator.service_account_key_json())?;
        let tokens = Arc::new(TokenProvider::new(key, http.clone(), RetryPolicy::fast())?);
        Ok(Rig {
            emulator,
            engine,
            dispatcher,
            google,
            store,
            config,
            sdk,
            tokens,
            http,
        })
    }

    /// Another engine on the same Google clients, store and dispatcher, whose clock runs `offset` ahead (a later
    /// invocation, e.g. after a crashed run's lease expired).
    pub fn engine_with_clock_offset(&self, offset: chrono::Duration) -> Arc<Engine> {
        let engine = Engine::new(
            Arc::clone(&self.google.people),
            Arc::clone(&self.google.directory),
            Arc::clone(&self.store),
            Arc::clone(&self.dispatcher) as Arc<dyn Dispatcher>,
            self.engine.settings().clone(),
        )
        .with_clock(Arc::new(OffsetClock(offset)));
        Arc::new(engine)
    }

    // ---- syncs and runs -------------------------------------------------------------------------------------

    /// Stores a sync of `source`'s contact group `group_name` to `destinations`, with the label named like the group.
    pub async fn create_sync(
        &self,
        source: &str,
        group_name: &str,
        destinations: Vec<Destination>,
    ) -> Result<SyncDefinition> {
        let user = self.user(source).await?;
        let group = self.contact_group(source, group_name).await?;
        let now = Utc::now();
        let sync = SyncDefinition {
            id: new_id(),
            name: format!("{group_name} from {source}"),
            description: String::new(),
            source: Source {
                user_id: user["id"].as_str().unwrap_or_default().to_owned(),
                user_email: source.to_owned(),
                contact_group: group,
                contact_group_name: group_name.to_owned(),
            },
            destinations,
            label_name: group_name.to_owned(),
            enabled: true,
            leaver_policy: LeaverPolicy::Remove,
            version: 1,
            created_at: now,
            created_by: "test".into(),
            updated_at: now,
            updated_by: "test".into(),
            last_run: None,
            current_names: None,
        };
        self.store.create_sync(&sync).await?;
        Ok(sync)
    }

    /// One invocation through the Lambda handler, with `time` before its deadline.
    pub async fn invoke(&self, event: ExecutorEvent, time: Duration) -> Result<RunReport> {
        invoke_engine(&self.engine, event, time).await
    }

    /// Runs a sync to the end (continuations included) and returns its run record.
    pub async fn run(&self, sync_id: &str, mode: RunMode) -> Result<Run> {
        let report = self
            .invoke(event(sync_id, mode), Duration::from_secs(600))
            .await?;
        self.dispatcher.wait_idle().await;
        let run_id = report
            .run_id
            .clone()
            .ok_or_else(|| anyhow!("no run id in {report:?}"))?;
        self.store
            .get_run(sync_id, &run_id)
            .await?
            .ok_or_else(|| anyhow!("run {run_id} not recorded"))
    }

    pub async fn results(&self, run: &Run) -> Result<BTreeMap<String, DestinationResult>> {
        Ok(self
            .store
            .list_results(&run.sync_id, &run.run_id)
            .await?
            .into_iter()
            .map(|r| (r.email.clone(), r))
            .collect())
    }

    // ---- Google state as the emulator holds it ----------------------------------------------------------

    /// The user's contacts managed by `sync_id`.
    pub fn managed(&self, email: &str, sync_id: &str) -> Vec<Person> {
        self.persons(email)
            .into_iter()
            .filter(|p| markers::is_managed_by(p, sync_id))
            .collect()
    }

    /// Every contact of the user.
    pub fn persons(&self, email: &str) -> Vec<Person> {
        self.emulator
            .contacts_of(email)
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect()
    }

    /// The user's contact groups named `name` (resource names).
    pub fn labels_named(&self, email: &str, name: &str) -> Vec<String> {
        self.emulator
            .contact_groups_of(email)
            .into_iter()
            .filter(|g| g["name"] == name)
            .filter_map(|g| g["resourceName"].as_str().map(str::to_owned))
            .collect()
    }

    /// Source contacts of the group `group_name`, normalised: source resource name -> hash.
    pub async fn source_hashes(
        &self,
        source: &str,
        group_name: &str,
    ) -> Result<BTreeMap<String, String>> {
        let group = self.contact_group(source, group_name).await?;
        let members = self
            .google
            .people
            .get_contact_group(source, &group, 25_000)
            .await?
            .member_resource_names;
        Ok(self
            .persons(source)
            .iter()
            .filter(|p| {
                p.resource_name
                    .as_ref()
                    .is_some_and(|n| members.contains(n))
            })
            .filter_map(|p| Some((p.resource_name.clone()?, normalize::normalize(p).hash)))
            .collect())
    }

    /// Asserts that `email` holds exactly one managed copy of every source contact of the group, with equal content,
    /// inside one label named `label`, and nothing else of this sync.
    pub async fn assert_in_sync(&self, email: &str, sync: &SyncDefinition) -> Result<()> {
        let expected = self
            .source_hashes(
                &self.source_email_now(sync).await?,
                &sync.source.contact_group_name,
            )
            .await?;
        let labels = self.labels_named(email, &sync.label_name);
        if labels.len() != 1 {
            bail!(
                "{email}: expected one label {:?}, found {labels:?}",
                sync.label_name
            );
        }
        let managed = self.managed(email, &sync.id);
        let mut found: BTreeMap<String, String> = BTreeMap::new();
        for p in &managed {
            let source = markers::source_of(p).unwrap_or_default().to_owned();
            if found
                .insert(source.clone(), normalize::normalize(p).hash)
                .is_some()
            {
                bail!("{email}: two copies of {source}");
            }
            if !p.is_member_of(&labels[0]) || !p.is_member_of("contactGroups/myContacts") {
                bail!("{email}: copy of {source} is not in the label and My Contacts");
            }
        }
        if found != expected {
            bail!(
                "{email}: managed copies differ from the source: expected {} contacts, found {}",
                expected.len(),
                found.len()
            );
        }
        Ok(())
    }

    // ---- the test's own Google calls --------------------------------------------------------------------

    /// The source user's current primary email (it may have been renamed since the sync was stored).
    pub async fn source_email_now(&self, sync: &SyncDefinition) -> Result<String> {
        Ok(self.user(&sync.source.user_id).await?["primaryEmail"]
            .as_str()
            .ok_or_else(|| anyhow!("source user has no primaryEmail"))?
            .to_owned())
    }

    /// A directory user (users.get as the admin).
    pub async fn user(&self, key: &str) -> Result<Value> {
        self.directory("GET", &format!("users/{}", urlencode(key)), None)
            .await
    }

    pub async fn user_id(&self, email: &str) -> Result<String> {
        Ok(self.user(email).await?["id"]
            .as_str()
            .ok_or_else(|| anyhow!("user {email} has no id"))?
            .to_owned())
    }

    /// users.patch as the admin (rename, move, suspend).
    pub async fn patch_user(&self, key: &str, body: Value) -> Result<Value> {
        self.directory("PATCH", &format!("users/{}", urlencode(key)), Some(body))
            .await
    }

    pub async fn group(&self, key: &str) -> Result<Value> {
        self.directory("GET", &format!("groups/{}", urlencode(key)), None)
            .await
    }

    pub async fn patch_group(&self, key: &str, body: Value) -> Result<Value> {
        self.directory("PATCH", &format!("groups/{}", urlencode(key)), Some(body))
            .await
    }

    pub async fn add_group_member(&self, group: &str, email: &str) -> Result<Value> {
        self.directory(
            "POST",
            &format!("groups/{}/members", urlencode(group)),
            Some(json!({"email": email, "role": "MEMBER"})),
        )
        .await
    }

    pub async fn remove_group_member(&self, group: &str, email: &str) -> Result<Value> {
        self.directory(
            "DELETE",
            &format!("groups/{}/members/{}", urlencode(group), urlencode(email)),
            None,
        )
        .await
    }

    /// orgunits.get by path (`/Sales`).
    pub async fn org_unit(&self, path: &str) -> Result<Value> {
        self.directory(
            "GET",
            &format!(
                "customer/my_customer/orgunits/{}",
                path.trim_start_matches('/')
            ),
            None,
        )
        .await
    }

    pub async fn patch_org_unit(&self, path: &str, body: Value) -> Result<Value> {
        self.directory(
            "PATCH",
            &format!(
                "customer/my_customer/orgunits/{}",
                path.trim_start_matches('/')
            ),
            Some(body),
        )
        .await
    }

    /// The resource name of the user's contact group `name`.
    pub async fn contact_group(&self, email: &str, name: &str) -> Result<String> {
        self.google
            .people
            .list_contact_groups(email)
            .await?
            .into_iter()
            .find(|g| g.name == name)
            .map(|g| g.resource_name)
            .ok_or_else(|| anyhow!("{email} has no contact group {name:?}"))
    }

    /// A contact of the user by a given name (first match).
    pub fn contact_named(&self, email: &str, given: &str) -> Result<Person> {
        self.persons(email)
            .into_iter()
            .find(|p| {
                p.fields
                    .get("names")
                    .and_then(|n| n.get(0))
                    .and_then(|n| n.get("givenName"))
                    .and_then(Value::as_str)
                    == Some(given)
            })
            .ok_or_else(|| anyhow!("{email} has no contact named {given}"))
    }

    async fn directory(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value> {
        let mut scopes: Vec<&str> = DIRECTORY_SCOPES.to_vec();
        scopes.extend(DIRECTORY_WRITE_SCOPES);
        let token = self.tokens.token(ADMIN, &scopes).await?;
        let url = format!("{}/admin/directory/v1/{path}", self.emulator.base_url());
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let mut request = self.http.request(method, &url).bearer_auth(token.secret());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("{url}: HTTP {status}: {text}");
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        Ok(serde_json::from_str(&text)?)
    }

    // ---- emulator counters ------------------------------------------------------------------------------

    /// Calls made as `email`, by method id.
    pub fn calls_of(&self, email: &str) -> BTreeMap<String, u64> {
        self.emulator
            .stats()
            .by_user
            .get(email)
            .cloned()
            .unwrap_or_default()
    }

    /// People API writes made as `email`.
    pub fn writes_of(&self, email: &str) -> u64 {
        self.calls_of(email)
            .iter()
            .filter(|(m, _)| PEOPLE_WRITES.contains(&m.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// People API reads made as `email`.
    pub fn reads_of(&self, email: &str) -> u64 {
        self.calls_of(email)
            .iter()
            .filter(|(m, _)| m.starts_with("people.") && !PEOPLE_WRITES.contains(&m.as_str()))
            .map(|(_, n)| n)
            .sum()
    }
}

/// The system clock shifted by a fixed offset.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock(pub chrono::Duration);

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0
    }
}

/// A manual run event.
pub fn event(sync_id: &str, mode: RunMode) -> ExecutorEvent {
    ExecutorEvent {
        sync_id: sync_id.to_owned(),
        run_id: None,
        trigger: Trigger::Manual,
        mode,
        requested_by: Some("test".into()),
        invocation: None,
    }
}

/// Calls the executor Lambda's handler with a fake Lambda context whose deadline is `time` from now.
pub async fn invoke_engine(
    engine: &Engine,
    event: ExecutorEvent,
    time: Duration,
) -> Result<RunReport> {
    let deadline: DateTime<Utc> = Utc::now() + chrono::Duration::from_std(time)?;
    invoke_engine_until(engine, event, deadline).await
}

/// Calls the executor Lambda's handler with a fake Lambda context whose deadline is `deadline`.
pub async fn invoke_engine_until(
    engine: &Engine,
    event: ExecutorEvent,
    deadline: DateTime<Utc>,
) -> Result<RunReport> {
    let mut context = lambda_runtime::Context::default();
    context.request_id = new_id();
    context.deadline = u64::try_from(deadline.timestamp_millis())?;
    context.invoked_function_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:contact-sync-executor".into();
    lambda::execute(engine, lambda_runtime::LambdaEvent::new(event, context))
        .await
        .map_err(|e| anyhow!("{}: {}", e.error_type, e.error_message))
}

pub fn dest(kind: DestinationKind, id: &str, display: &str) -> Destination {
    Destination {
        kind,
        id: id.to_owned(),
        display: display.to_owned(),
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- seeds ------------------------------------------------------------------------------------------------

/// A source contact using every copyable field.
pub fn full_contact(i: usize) -> Value {
    json!({
        "names": [{"givenName": format!("Given{i}"), "familyName": format!("Family{i}"), "middleName": "M",
                   "honorificPrefix": "Dr."}],
        "emailAddresses": [{"value": format!("contact{i}@partner.example"), "type": "work"},
                           {"value": format!("home{i}@mail.example"), "type": "home"}],
        "phoneNumbers": [{"value": format!("+1 555 010 {i:04}"), "type": "mobile"}],
        "organizations": [{"name": "Partner Corp", "title": "Buyer", "department": "Purchasing", "type": "work"}],
        "addresses": [{"streetAddress": format!("{i} Main St"), "city": "Springfield", "postalCode": "12345",
                       "country": "USA", "countryCode": "US", "type": "work"}],
        "biographies": [{"value": format!("Met at the fair, year {i}"), "contentType": "TEXT_PLAIN"}],
        "urls": [{"value": format!("https://partner.example/{i}"), "type": "work"}],
        "birthdays": [{"date": {"year": 1980, "month": 1 + (i % 12), "day": 1 + (i % 28)}}],
        "events": [{"date": {"year": 2020, "month": 6, "day": 1}, "type": "anniversary"}],
        "relations": [{"person": "Pat", "type": "assistant"}],
        "nicknames": [{"value": format!("Nick{i}")}],
        "userDefined": [{"key": "account", "value": format!("A-{i}")}]
    })
}

/// A small contact (name and email).
pub fn small_contact(given: &str) -> Value {
    json!({
        "names": [{"givenName": given, "familyName": "Smith"}],
        "emailAddresses": [{"value": format!("{}@vendor.example", given.to_lowercase())}]
    })
}

/// The usual directory: an admin, the source user, ann and cat in /Sales (cat in /Sales/East), bob in /Eng,
/// dan suspended in /Sales; group team@ = ann + (nested@ = cat); source groups "Partners" (3 full contacts) and
/// "Vendors" (2 small ones).
pub fn standard_seed() -> Value {
    let mut scopes: Vec<&str> = google_emulator::DEFAULT_DELEGATION_SCOPES.to_vec();
    scopes.extend(DIRECTORY_WRITE_SCOPES);
    json!({
        "domains": ["example.com"],
        "org_units": ["/Sales", "/Sales/East", "/Eng"],
        "users": [
            {"email": ADMIN, "given_name": "Ada", "family_name": "Admin", "is_admin": true},
            {"email": SOURCE, "given_name": "Sam", "family_name": "Source", "org_unit": "/Sales"},
            {"email": "ann@example.com", "given_name": "Ann", "family_name": "A", "org_unit": "/Sales"},
            {"email": "cat@example.com", "given_name": "Cat", "family_name": "C", "org_unit": "/Sales/East"},
            {"email": "bob@example.com", "given_name": "Bob", "family_name": "B", "org_unit": "/Eng"},
            {"email": "dan@example.com", "given_name": "Dan", "family_name": "D", "org_unit": "/Sales", "suspended": true}
        ],
        "groups": [
            {"email": "team@example.com", "name": "Team", "members": ["ann@example.com", "nested@example.com"]},
            {"email": "nested@example.com", "name": "Nested", "members": ["cat@example.com"]}
        ],
        "contact_groups": {
            SOURCE: [
                {"name": "Partners", "contacts": [full_contact(1), full_contact(2), full_contact(3)]},
                {"name": "Vendors", "contacts": [small_contact("Vera"), small_contact("Vic")]}
            ]
        },
        "contacts": {},
        "delegation_scopes": scopes
    })
}

pub fn seed(value: Value) -> Result<Seed> {
    Ok(serde_json::from_value(value)?)
}
