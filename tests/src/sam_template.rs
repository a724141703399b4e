//! Reading template.yaml the way the tests need it: functions with their binary, routes, environment and policies.
//!
//! CloudFormation's short-form intrinsics (`!Ref`, `!Sub`, `!GetAtt`, ...) parse as tagged YAML values; [`resolve`]
//! evaluates the few a test needs (`!Ref` and `!Sub` of names it knows) and refuses everything else.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde_yaml::Value;

/// The workspace root (the tests crate lives in `<root>/tests`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// One HttpApi route of a function.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Route {
    pub method: String,
    pub path: String,
}

/// One `AWS::Serverless::Function` of the template.
#[derive(Debug, Clone)]
pub struct SamFunction {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`.
    pub binary: Option<String>,
    /// `Metadata.BuildMethod`.
    pub build_method: Option<String>,
    /// `Properties` merged over `Globals.Function` (function values win; `Environment.Variables` merge).
    pub properties: serde_yaml::Mapping,
    /// Environment variables, Globals merged with the function's own, unresolved.
    pub environment: BTreeMap<String, Value>,
    /// HttpApi events.
    pub routes: Vec<Route>,
    /// Names of the SAM policy templates (`DynamoDBReadPolicy`, `LambdaInvokePolicy`, ...) in `Policies`.
    pub policy_templates: Vec<String>,
}

impl SamFunction {
    pub fn property(&self, name: &str) -> Option<&Value> {
        self.properties.get(name)
    }

    /// The arguments of one policy template, e.g. `{"TableName": !Ref SyncTable}`.
    pub fn policy_argument(&self, template: &str, argument: &str) -> Option<&Value> {
        let policies = self.properties.get("Policies")?.as_sequence()?;
        policies
            .iter()
            .filter_map(|p| p.as_mapping())
            .filter_map(|p| p.get(template))
            .find_map(|args| args.as_mapping().and_then(|a| a.get(argument)))
    }
}

/// The parsed template.
#[derive(Debug, Clone)]
pub struct SamTemplate {
    pub root: Value,
}

impl SamTemplate {
    /// Parses `<workspace>/template.yaml`.
    pub fn load_workspace() -> Result<Self> {
        Self::load(&workspace_root().join("template.yaml"))
    }

    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let root: Value =
            serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        Ok(SamTemplate { root })
    }

    pub fn section(&self, name: &str) -> Option<&serde_yaml::Mapping> {
        self.root.get(name).and_then(Value::as_mapping)
    }

    /// Every resource of the given type, by logical id.
    pub fn resources_of_type(&self, kind: &str) -> Vec<(String, &Value)> {
        self.section("Resources")
            .into_iter()
            .flatten()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .filter_map(|(id, r)| id.as_str().map(|id| (id.to_owned(), r)))
            .collect()
    }

    /// Every serverless function with Globals applied.
    pub fn functions(&self) -> Result<Vec<SamFunction>> {
        let globals = self
            .root
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .and_then(Value::as_mapping)
            .cloned()
            .unwrap_or_default();
        let mut out = Vec::new();
        for (logical_id, resource) in self.resources_of_type("AWS::Serverless::Function") {
            let own = resource
                .get("Properties")
                .and_then(Value::as_mapping)
                .cloned()
                .unwrap_or_default();
            let mut properties = globals.clone();
            for (k, v) in &own {
                properties.insert(k.clone(), v.clone());
            }
            let mut environment = BTreeMap::new();
            for source in [&globals, &own] {
                let vars = source
                    .get("Environment")
                    .and_then(|e| e.get("Variables"))
                    .and_then(Value::as_mapping);
                for (k, v) in vars.into_iter().flatten() {
                    let name = k
                        .as_str()
                        .ok_or_else(|| anyhow!("{logical_id}: non-string variable name"))?;
                    environment.insert(name.to_owned(), v.clone());
                }
            }
            let metadata = resource.get("Metadata");
            let binary = metadata
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let build_method = metadata
                .and_then(|m| m.get("BuildMethod"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            let mut routes = Vec::new();
            for (_, event) in own
                .get("Events")
                .and_then(Value::as_mapping)
                .into_iter()
                .flatten()
            {
                if event.get("Type").and_then(Value::as_str) != Some("HttpApi") {
                    continue;
                }
                let props = event.get("Properties");
                let field = |name: &str| {
                    props
                        .and_then(|p| p.get(name))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .ok_or_else(|| anyhow!("{logical_id}: HttpApi event without {name}"))
                };
                routes.push(Route {
                    method: field("Method")?.to_ascii_uppercase(),
                    path: field("Path")?,
                });
            }
            routes.sort();
            let policy_templates = properties
                .get("Policies")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .filter_map(Value::as_mapping)
                .flat_map(|m| m.keys().filter_map(Value::as_str).map(str::to_owned))
                .collect();
            out.push(SamFunction {
                logical_id,
                binary,
                build_method,
                properties,
                environment,
                routes,
                policy_templates,
            });
        }
        out.sort_by(|a, b| a.logical_id.cmp(&b.logical_id));
        Ok(out)
    }

    /// The function whose `BuildProperties.Binary` is `binary`.
    pub fn function_for_binary(&self, binary: &str) -> Result<Option<SamFunction>> {
        Ok(self
            .functions()?
            .into_iter()
            .find(|f| f.binary.as_deref() == Some(binary)))
    }
}

/// Evaluates a template value to a string: plain scalars, `!Ref <name>` and `!Sub "<text with ${name}>"` (short
/// or long form), looking names (parameters, resources, pseudo parameters) up in `names`.
pub fn resolve(value: &Value, names: &BTreeMap<String, String>) -> Result<String> {
    let lookup = |name: &str| {
        names
            .get(name)
            .cloned()
            .ok_or_else(|| anyhow!("no value for {name} in this test"))
    };
    match value {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Tagged(tagged) if tagged.tag == "Ref" => match &tagged.value {
            Value::String(name) => lookup(name),
            other => bail!("!Ref of a non-string: {other:?}"),
        },
        Value::Tagged(tagged) if tagged.tag == "Sub" => match &tagged.value {
            Value::String(text) => substitute(text, &lookup),
            other => bail!("unsupported !Sub form: {other:?}"),
        },
        Value::Mapping(m) if m.len() == 1 => {
            if let Some(Value::String(name)) = m.get("Ref") {
                lookup(name)
            } else if let Some(Value::String(text)) = m.get("Fn::Sub") {
                substitute(text, &lookup)
            } else {
                bail!("unsupported intrinsic: {value:?}")
            }
        }
        other => bail!("unsupported value: {other:?}"),
    }
}

fn substitute(text: &str, lookup: &dyn Fn(&str) -> Result<String>) -> Result<String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| anyhow!("unterminated ${{ in {text:?}"))?;
        out.push_str(&lookup(&after[..end])?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The function crates under `functions/` (directory names, which are also package and binary names).
pub fn function_crates() -> Result<Vec<String>> {
    let dir = workspace_root().join("functions");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file() {
            let name = entry.file_name();
            let name = name
                .to_str()
                .ok_or_else(|| anyhow!("non-UTF-8 crate directory {:?}", entry.path()))?;
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}
