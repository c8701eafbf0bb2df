//! The SAM / CloudFormation template model the local stack needs.
//!
//! The YAML is converted to JSON with every short-form tag (`!Ref`, `!GetAtt`, `!Sub`...)
//! rewritten to its long form (`{"Ref": ..}`, `{"Fn::GetAtt": [..]}`...). Only the resource
//! types the local stack runs are modelled; everything else is listed in
//! [`Template::resource_types`] and otherwise ignored.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::intrinsics::{self, Parameter, Pseudo, ResourceRefs, Scope};

/// Errors while loading a template.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read template {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid template YAML: {0}")]
    Yaml(#[from] serde_yaml::Error),
    /// A property of a resource is missing, malformed or uses an unsupported intrinsic.
    #[error("resource {resource}, property {property}: {message}")]
    Property {
        resource: String,
        property: String,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}

fn prop_err(resource: &str, property: &str, message: impl Into<String>) -> TemplateError {
    TemplateError::Property {
        resource: resource.to_string(),
        property: property.to_string(),
        message: message.into(),
    }
}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    pub description: Option<String>,
    /// Parameters with their effective value (override, else `Default`).
    pub parameters: BTreeMap<String, Parameter>,
    /// Raw condition expressions (long form).
    pub conditions: BTreeMap<String, Value>,
    /// Every resource of the template: logical id → `Type` (modelled or not).
    pub resource_types: BTreeMap<String, String>,
    pub tables: Vec<Table>,
    pub queues: Vec<Queue>,
    pub secrets: Vec<Secret>,
    pub functions: Vec<Function>,
}

/// `AWS::DynamoDB::Table`.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub logical_id: String,
    pub billing_mode: Option<String>,
    pub attribute_definitions: Vec<AttributeDefinition>,
    pub key_schema: Vec<KeyElement>,
    pub global_secondary_indexes: Vec<SecondaryIndex>,
    pub local_secondary_indexes: Vec<SecondaryIndex>,
    pub ttl: Option<TimeToLive>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDefinition {
    pub name: String,
    /// `S`, `N` or `B`.
    pub attribute_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyElement {
    pub name: String,
    /// `HASH` or `RANGE`.
    pub key_type: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SecondaryIndex {
    pub name: String,
    pub key_schema: Vec<KeyElement>,
    /// `ALL`, `KEYS_ONLY` or `INCLUDE`.
    pub projection_type: String,
    pub non_key_attributes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TimeToLive {
    pub attribute_name: String,
    pub enabled: bool,
}

/// `AWS::SQS::Queue`.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub logical_id: String,
    /// Seconds; SQS default 30.
    pub visibility_timeout: Option<u32>,
    /// Seconds; SQS default 345600 (4 days).
    pub message_retention_period: Option<u32>,
    pub delay_seconds: Option<u32>,
    pub receive_message_wait_time: Option<u32>,
    pub maximum_message_size: Option<u32>,
    pub fifo: bool,
    pub content_based_deduplication: bool,
    pub redrive: Option<Redrive>,
}

/// `RedrivePolicy` of a queue.
#[derive(Debug, Clone, PartialEq)]
pub struct Redrive {
    /// Logical id of the dead-letter queue.
    pub dead_letter_queue: String,
    pub max_receive_count: u32,
}

/// `AWS::SecretsManager::Secret`.
#[derive(Debug, Clone, PartialEq)]
pub struct Secret {
    pub logical_id: String,
    pub description: Option<String>,
    pub value: SecretValue,
}

/// Where a secret's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum SecretValue {
    /// `SecretString`.
    String(String),
    /// `GenerateSecretString` (also used when neither is given, with defaults).
    Generate(GenerateSecretString),
}

/// `GenerateSecretString` properties (Secrets Manager `GetRandomPassword` semantics).
#[derive(Debug, Clone, PartialEq)]
pub struct GenerateSecretString {
    pub password_length: usize,
    pub exclude_characters: String,
    pub exclude_lowercase: bool,
    pub exclude_uppercase: bool,
    pub exclude_numbers: bool,
    pub exclude_punctuation: bool,
    pub include_space: bool,
    pub require_each_included_type: bool,
    pub secret_string_template: Option<String>,
    pub generate_string_key: Option<String>,
}

impl Default for GenerateSecretString {
    fn default() -> Self {
        Self {
            password_length: 32,
            exclude_characters: String::new(),
            exclude_lowercase: false,
            exclude_uppercase: false,
            exclude_numbers: false,
            exclude_punctuation: false,
            include_space: false,
            require_each_included_type: true,
            secret_string_template: None,
            generate_string_key: None,
        }
    }
}

/// `AWS::Serverless::Function` with `Globals.Function` merged in.
#[derive(Debug, Clone, PartialEq)]
pub struct Function {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: name of the executable in the bin dir.
    pub binary: Option<String>,
    /// `Timeout` (Lambda default 3 s).
    pub timeout: Duration,
    /// `MemorySize` in MB (Lambda default 128).
    pub memory_size: u32,
    /// Environment variables, unresolved (long-form intrinsics); see `Stack::function_environment`.
    pub environment: BTreeMap<String, Value>,
    /// `LoggingConfig.LogFormat` (`JSON` sets `AWS_LAMBDA_LOG_FORMAT=JSON`).
    pub log_format: Option<String>,
    /// `LoggingConfig.ApplicationLogLevel` (JSON format only, `AWS_LAMBDA_LOG_LEVEL`).
    pub application_log_level: Option<String>,
    pub http_events: Vec<HttpEvent>,
    pub sqs_events: Vec<SqsEvent>,
    /// `Schedule` and `ScheduleV2` events.
    pub schedule_events: Vec<ScheduleEvent>,
}

/// An `HttpApi` event: one route of the HTTP API.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpEvent {
    /// Event name in the template.
    pub name: String,
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// Route path such as `/admin/businesses/{business_id}`, or `$default`.
    pub path: String,
}

impl HttpEvent {
    /// API Gateway route key: `"POST /admin/businesses"` or `"$default"`.
    pub fn route_key(&self) -> String {
        if self.path == "$default" {
            "$default".to_string()
        } else {
            format!("{} {}", self.method, self.path)
        }
    }
}

/// An `SQS` event: an event-source mapping from a queue of the template.
#[derive(Debug, Clone, PartialEq)]
pub struct SqsEvent {
    pub name: String,
    /// Logical id of the queue.
    pub queue: String,
    /// Default 10.
    pub batch_size: u32,
    /// `MaximumBatchingWindowInSeconds`, default 0.
    pub maximum_batching_window: Duration,
    /// `FunctionResponseTypes` contains `ReportBatchItemFailures`.
    pub report_batch_item_failures: bool,
    /// Default true.
    pub enabled: bool,
    /// `ScalingConfig.MaximumConcurrency`.
    pub maximum_concurrency: Option<u32>,
}

/// Which SAM event type a schedule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleKind {
    /// `Type: Schedule`: an EventBridge rule (`Properties.Schedule`).
    Rule,
    /// `Type: ScheduleV2`: an EventBridge Scheduler schedule (`Properties.ScheduleExpression`).
    Scheduler,
}

impl ScheduleKind {
    /// The SAM event type.
    pub fn event_type(self) -> &'static str {
        match self {
            ScheduleKind::Rule => "Schedule",
            ScheduleKind::Scheduler => "ScheduleV2",
        }
    }

    /// The template property holding the expression.
    pub fn expression_property(self) -> &'static str {
        match self {
            ScheduleKind::Rule => "Schedule",
            ScheduleKind::Scheduler => "ScheduleExpression",
        }
    }
}

/// A schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    /// `rate(N minute|minutes|hour|hours|day|days)`.
    Rate(Duration),
    /// `cron(minutes hours day-of-month month day-of-week year)`: accepted (six fields) but
    /// only run locally with a period override (`--schedule-every`), at that period.
    Cron(String),
}

impl ScheduleExpression {
    /// Parses `rate(...)` or `cron(...)`. Like EventBridge, a rate of 1 takes the singular
    /// unit and larger rates the plural one. `at(...)` (one-time schedules) is refused.
    pub fn parse(expr: &str) -> Result<ScheduleExpression, String> {
        let expr = expr.trim();
        if let Some(inner) = expr.strip_prefix("rate(").and_then(|r| r.strip_suffix(')')) {
            let mut parts = inner.split_whitespace();
            let (Some(n), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!(
                    "{expr:?}: expected rate(<number> <minute(s)|hour(s)|day(s)>)"
                ));
            };
            let n: u64 = n
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("{expr:?}: the rate must be a positive integer"))?;
            let (secs, singular) = match unit {
                "minute" | "minutes" => (60, unit == "minute"),
                "hour" | "hours" => (3600, unit == "hour"),
                "day" | "days" => (86400, unit == "day"),
                _ => {
                    return Err(format!(
                        "{expr:?}: unsupported unit {unit:?} (minute(s), hour(s) or day(s))"
                    ));
                }
            };
            if singular != (n == 1) {
                return Err(format!(
                    "{expr:?}: use the singular unit for a rate of 1 and the plural otherwise"
                ));
            }
            return Ok(ScheduleExpression::Rate(Duration::from_secs(n * secs)));
        }
        if let Some(inner) = expr.strip_prefix("cron(").and_then(|r| r.strip_suffix(')')) {
            let fields = inner.split_whitespace().count();
            if fields != 6 {
                return Err(format!(
                    "{expr:?}: a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), got {fields}"
                ));
            }
            return Ok(ScheduleExpression::Cron(
                inner.split_whitespace().collect::<Vec<_>>().join(" "),
            ));
        }
        if expr.starts_with("at(") {
            return Err(format!(
                "{expr:?}: one-time at(...) schedules are not supported by the local stack"
            ));
        }
        Err(format!(
            "{expr:?}: expected rate(<number> <unit>) or cron(<6 fields>)"
        ))
    }

    /// The period of a rate expression (`None` for cron).
    pub fn period(&self) -> Option<Duration> {
        match self {
            ScheduleExpression::Rate(d) => Some(*d),
            ScheduleExpression::Cron(_) => None,
        }
    }
}

impl std::fmt::Display for ScheduleExpression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleExpression::Rate(d) => {
                let secs = d.as_secs();
                let (n, unit) = if secs % 86400 == 0 {
                    (secs / 86400, "day")
                } else if secs % 3600 == 0 {
                    (secs / 3600, "hour")
                } else {
                    (secs / 60, "minute")
                };
                write!(f, "rate({n} {unit}{})", if n == 1 { "" } else { "s" })
            }
            ScheduleExpression::Cron(c) => write!(f, "cron({c})"),
        }
    }
}

/// A `Schedule` or `ScheduleV2` event: the function is invoked on a schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleEvent {
    /// Event name in the template.
    pub name: String,
    pub kind: ScheduleKind,
    pub expression: ScheduleExpression,
    /// `Enabled` (Schedule only) and `State` (`ENABLED` / `DISABLED`); default true.
    pub enabled: bool,
    /// `Input`: JSON text the function gets instead of the scheduled-event payload.
    pub input: Option<String>,
    /// `Name`: the rule's / schedule's name, if set.
    pub schedule_name: Option<String>,
}

impl Template {
    /// Reads and parses a template file.
    pub fn load(path: impl AsRef<Path>) -> Result<Template, TemplateError> {
        Self::load_with_parameters(path, &BTreeMap::new())
    }

    /// Reads and parses a template file with parameter overrides (name → value).
    pub fn load_with_parameters(
        path: impl AsRef<Path>,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Template, TemplateError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TemplateError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse_with_parameters(&text, overrides)
    }

    /// Parses template YAML.
    pub fn parse(yaml: &str) -> Result<Template, TemplateError> {
        Self::parse_with_parameters(yaml, &BTreeMap::new())
    }

    /// Parses template YAML with parameter overrides (name → value).
    pub fn parse_with_parameters(
        yaml: &str,
        overrides: &BTreeMap<String, String>,
    ) -> Result<Template, TemplateError> {
        let raw: serde_yaml::Value = serde_yaml::from_str(yaml)?;
        let doc = yaml_to_json(raw)?;
        let doc = doc
            .as_object()
            .ok_or_else(|| TemplateError::Invalid("template is not a mapping".into()))?;

        let parameters = parse_parameters(doc.get("Parameters"), overrides)?;
        let conditions: BTreeMap<String, Value> = doc
            .get("Conditions")
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        let globals = doc
            .get("Globals")
            .and_then(|g| g.get("Function"))
            .cloned()
            .unwrap_or(Value::Object(Map::new()));
        let resources = doc
            .get("Resources")
            .and_then(Value::as_object)
            .ok_or_else(|| TemplateError::Invalid("template has no Resources".into()))?;

        let mut template = Template {
            description: doc
                .get("Description")
                .and_then(Value::as_str)
                .map(str::to_string),
            parameters,
            conditions,
            resource_types: BTreeMap::new(),
            tables: vec![],
            queues: vec![],
            secrets: vec![],
            functions: vec![],
        };
        for (id, res) in resources {
            let ty = res
                .get("Type")
                .and_then(Value::as_str)
                .ok_or_else(|| prop_err(id, "Type", "missing"))?;
            template.resource_types.insert(id.clone(), ty.to_string());
        }

        let placeholders = Placeholders {
            types: &template.resource_types,
        };
        let pseudo = Pseudo::default();
        let scope = Scope {
            parameters: &template.parameters,
            conditions: &template.conditions,
            pseudo: &pseudo,
            resources: &placeholders,
        };
        // Environment variables are resolved once provisioned; validate them with stand-ins.
        let env_pseudo = Pseudo {
            stack_name: Some("<AWS::StackName>".into()),
            region: Some("<AWS::Region>".into()),
        };
        let env_scope = Scope {
            pseudo: &env_pseudo,
            ..scope
        };
        let mut tables = vec![];
        let mut queues = vec![];
        let mut secrets = vec![];
        let mut functions = vec![];
        for (id, res) in resources {
            if let Some(cond) = res.get("Condition").and_then(Value::as_str)
                && !scope
                    .condition(cond, 0)
                    .map_err(|e| prop_err(id, "Condition", e))?
            {
                continue;
            }
            let empty = Map::new();
            let props = res
                .get("Properties")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            let p = Props {
                id,
                props,
                scope: &scope,
                env_scope: &env_scope,
            };
            match template.resource_types[id].as_str() {
                "AWS::DynamoDB::Table" => tables.push(parse_table(&p)?),
                "AWS::SQS::Queue" => queues.push(parse_queue(&p)?),
                "AWS::SecretsManager::Secret" => secrets.push(parse_secret(&p)?),
                "AWS::Serverless::Function" => {
                    let merged = sam_merge(&globals, &Value::Object(props.clone()));
                    let merged = merged.as_object().cloned().unwrap_or_default();
                    let p = Props {
                        id,
                        props: &merged,
                        scope: &scope,
                        env_scope: &env_scope,
                    };
                    functions.push(parse_function(&p, res.get("Metadata"))?);
                }
                _ => {}
            }
        }
        for q in &queues {
            if let Some(r) = &q.redrive
                && !queues.iter().any(|d| d.logical_id == r.dead_letter_queue)
            {
                return Err(prop_err(
                    &q.logical_id,
                    "RedrivePolicy.deadLetterTargetArn",
                    format!(
                        "{} is not an AWS::SQS::Queue of the template",
                        r.dead_letter_queue
                    ),
                ));
            }
        }
        for f in &functions {
            for e in &f.sqs_events {
                if !queues.iter().any(|q| q.logical_id == e.queue) {
                    return Err(prop_err(
                        &f.logical_id,
                        &format!("Events.{}.Properties.Queue", e.name),
                        format!("{} is not an AWS::SQS::Queue of the template", e.queue),
                    ));
                }
            }
        }
        template.tables = tables;
        template.queues = queues;
        template.secrets = secrets;
        template.functions = functions;
        Ok(template)
    }

    pub fn function(&self, logical_id: &str) -> Option<&Function> {
        self.functions.iter().find(|f| f.logical_id == logical_id)
    }

    pub fn queue(&self, logical_id: &str) -> Option<&Queue> {
        self.queues.iter().find(|q| q.logical_id == logical_id)
    }

    pub fn table(&self, logical_id: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.logical_id == logical_id)
    }

    pub fn secret(&self, logical_id: &str) -> Option<&Secret> {
        self.secrets.iter().find(|s| s.logical_id == logical_id)
    }

    /// Every `Schedule` / `ScheduleV2` event: (function, event).
    pub fn schedules(&self) -> Vec<(&Function, &ScheduleEvent)> {
        self.functions
            .iter()
            .flat_map(|f| f.schedule_events.iter().map(move |e| (f, e)))
            .collect()
    }

    /// Every HTTP route: (function, event).
    pub fn http_routes(&self) -> Vec<(&Function, &HttpEvent)> {
        self.functions
            .iter()
            .flat_map(|f| f.http_events.iter().map(move |e| (f, e)))
            .collect()
    }
}

/// Converts YAML to JSON, rewriting CloudFormation short-form tags to long form.
pub fn yaml_to_json(v: serde_yaml::Value) -> Result<Value, TemplateError> {
    use serde_yaml::Value as Y;
    Ok(match v {
        Y::Null => Value::Null,
        Y::Bool(b) => Value::Bool(b),
        Y::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map(Value::from).unwrap_or(Value::Null)
            }
        }
        Y::String(s) => Value::String(s),
        Y::Sequence(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Y::Mapping(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k {
                    Y::String(s) => s,
                    Y::Number(n) => n.to_string(),
                    Y::Bool(b) => b.to_string(),
                    other => {
                        return Err(TemplateError::Invalid(format!(
                            "unsupported mapping key {other:?}"
                        )));
                    }
                };
                out.insert(key, yaml_to_json(v)?);
            }
            Value::Object(out)
        }
        Y::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let tag = tag.trim_start_matches('!').to_string();
            let inner = yaml_to_json(tagged.value)?;
            let (key, inner) = match tag.as_str() {
                "Ref" => ("Ref".to_string(), inner),
                "Condition" => ("Condition".to_string(), inner),
                "GetAtt" => {
                    let inner = match inner {
                        Value::String(s) => match s.split_once('.') {
                            Some((a, b)) => Value::Array(vec![a.into(), b.into()]),
                            None => Value::String(s),
                        },
                        other => other,
                    };
                    ("Fn::GetAtt".to_string(), inner)
                }
                other => (format!("Fn::{other}"), inner),
            };
            let mut map = Map::new();
            map.insert(key, inner);
            Value::Object(map)
        }
    })
}

/// SAM `Globals` merge: maps merged recursively (the function wins), lists appended,
/// anything else (scalars, intrinsics) overridden by the function's value.
pub fn sam_merge(global: &Value, local: &Value) -> Value {
    match (global, local) {
        (Value::Object(g), Value::Object(l))
            if !intrinsics::is_intrinsic(g) && !intrinsics::is_intrinsic(l) =>
        {
            let mut merged = g.clone();
            for (k, v) in l {
                let value = match g.get(k) {
                    Some(gv) => sam_merge(gv, v),
                    None => v.clone(),
                };
                merged.insert(k.clone(), value);
            }
            Value::Object(merged)
        }
        (Value::Array(g), Value::Array(l)) => Value::Array(g.iter().chain(l).cloned().collect()),
        (_, l) => l.clone(),
    }
}

fn parse_parameters(
    params: Option<&Value>,
    overrides: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Parameter>, TemplateError> {
    let mut out = BTreeMap::new();
    if let Some(params) = params.and_then(Value::as_object) {
        for (name, def) in params {
            let param_type = def
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("String")
                .to_string();
            let raw = match overrides.get(name) {
                Some(v) => Some(v.clone()),
                None => match def.get("Default") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(items)) => Some(
                        items
                            .iter()
                            .map(intrinsics::scalar_to_string)
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| prop_err(name, "Default", e))?
                            .join(","),
                    ),
                    Some(v) => Some(
                        intrinsics::scalar_to_string(v)
                            .map_err(|e| prop_err(name, "Default", e))?,
                    ),
                },
            };
            let is_list = param_type == "CommaDelimitedList" || param_type.starts_with("List<");
            let value = raw.map(|s| {
                if is_list {
                    Value::Array(
                        s.split(',')
                            .map(|p| Value::String(p.trim().into()))
                            .collect(),
                    )
                } else {
                    Value::String(s)
                }
            });
            out.insert(name.clone(), Parameter { param_type, value });
        }
    }
    if let Some(unknown) = overrides.keys().find(|k| !out.contains_key(*k)) {
        return Err(TemplateError::Invalid(format!(
            "parameter override {unknown}: the template has no such parameter"
        )));
    }
    Ok(out)
}

/// Parse-time stand-ins for resource references: validates that the reference is one the
/// local stack can resolve once provisioned.
struct Placeholders<'a> {
    types: &'a BTreeMap<String, String>,
}

/// Attributes a `Fn::GetAtt` may use, by resource type.
pub(crate) fn supported_get_att(resource_type: &str, attr: &str) -> bool {
    matches!(
        (resource_type, attr),
        ("AWS::DynamoDB::Table", "Arn")
            | ("AWS::SQS::Queue", "Arn" | "QueueName" | "QueueUrl")
            | ("AWS::SecretsManager::Secret", "Id")
            | ("AWS::Serverless::Function", "Arn")
    )
}

pub(crate) fn supported_ref(resource_type: &str) -> bool {
    matches!(
        resource_type,
        "AWS::DynamoDB::Table"
            | "AWS::SQS::Queue"
            | "AWS::SecretsManager::Secret"
            | "AWS::Serverless::Function"
    )
}

impl ResourceRefs for Placeholders<'_> {
    fn resource_ref(&self, id: &str) -> Option<Result<String, String>> {
        let ty = self.types.get(id)?;
        Some(if supported_ref(ty) {
            Ok(format!("<Ref {id}>"))
        } else {
            Err(format!(
                "Ref to {ty} {id} is not supported by the local stack"
            ))
        })
    }

    fn get_att(&self, id: &str, attr: &str) -> Option<Result<String, String>> {
        let ty = self.types.get(id)?;
        Some(if supported_get_att(ty, attr) {
            Ok(format!("<GetAtt {id}.{attr}>"))
        } else {
            Err(format!(
                "Fn::GetAtt {id}.{attr} ({ty}) is not supported by the local stack"
            ))
        })
    }
}

/// Properties of one resource with the parse-time scope.
struct Props<'a> {
    id: &'a str,
    props: &'a Map<String, Value>,
    scope: &'a Scope<'a>,
    /// Like `scope`, with stand-ins for the pseudo parameters known once provisioned.
    env_scope: &'a Scope<'a>,
}

impl Props<'_> {
    fn raw(&self, path: &str) -> Option<&Value> {
        let mut cur = self.props.get(path.split('.').next()?)?;
        for part in path.split('.').skip(1) {
            cur = cur.get(part)?;
        }
        Some(cur)
    }

    fn err(&self, property: &str, message: impl Into<String>) -> TemplateError {
        prop_err(self.id, property, message)
    }

    fn resolve_value(&self, path: &str, v: &Value) -> Result<Value, TemplateError> {
        self.scope.resolve(v).map_err(|e| self.err(path, e))
    }

    fn get(&self, path: &str) -> Result<Option<Value>, TemplateError> {
        match self.raw(path) {
            None => Ok(None),
            Some(v) => self
                .resolve_value(path, v)
                .map(|v| (!v.is_null()).then_some(v)),
        }
    }

    fn string(&self, path: &str) -> Result<Option<String>, TemplateError> {
        self.get(path)?
            .map(|v| intrinsics::scalar_to_string(&v).map_err(|e| self.err(path, e)))
            .transpose()
    }

    fn u64(&self, path: &str) -> Result<Option<u64>, TemplateError> {
        self.string(path)?
            .map(|s| {
                s.trim().parse::<u64>().map_err(|_| {
                    self.err(path, format!("expected a non-negative integer, got {s:?}"))
                })
            })
            .transpose()
    }

    fn u32(&self, path: &str) -> Result<Option<u32>, TemplateError> {
        self.u64(path)?
            .map(|n| u32::try_from(n).map_err(|_| self.err(path, "number too large")))
            .transpose()
    }

    fn bool(&self, path: &str) -> Result<Option<bool>, TemplateError> {
        self.string(path)?
            .map(|s| match s.to_ascii_lowercase().as_str() {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(self.err(path, format!("expected a boolean, got {s:?}"))),
            })
            .transpose()
    }

    fn list(&self, path: &str) -> Result<Vec<Value>, TemplateError> {
        match self.get(path)? {
            None => Ok(vec![]),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(self.err(path, format!("expected a list, got {other}"))),
        }
    }
}

fn str_field(p: &Props, path: &str, v: &Value, field: &str) -> Result<String, TemplateError> {
    v.get(field)
        .and_then(|f| intrinsics::scalar_to_string(f).ok())
        .ok_or_else(|| p.err(&format!("{path}.{field}"), "missing or not a string"))
}

fn key_schema(p: &Props, path: &str, items: &[Value]) -> Result<Vec<KeyElement>, TemplateError> {
    items
        .iter()
        .map(|k| {
            Ok(KeyElement {
                name: str_field(p, path, k, "AttributeName")?,
                key_type: str_field(p, path, k, "KeyType")?,
            })
        })
        .collect()
}

fn parse_table(p: &Props) -> Result<Table, TemplateError> {
    let attribute_definitions = p
        .list("AttributeDefinitions")?
        .iter()
        .map(|a| {
            Ok(AttributeDefinition {
                name: str_field(p, "AttributeDefinitions", a, "AttributeName")?,
                attribute_type: str_field(p, "AttributeDefinitions", a, "AttributeType")?,
            })
        })
        .collect::<Result<Vec<_>, TemplateError>>()?;
    let key_schema_v = p.list("KeySchema")?;
    if key_schema_v.is_empty() {
        return Err(p.err("KeySchema", "missing"));
    }
    let index = |path: &str| -> Result<Vec<SecondaryIndex>, TemplateError> {
        p.list(path)?
            .iter()
            .map(|g| {
                let name = str_field(p, path, g, "IndexName")?;
                let ks = g.get("KeySchema").and_then(Value::as_array);
                let ks = ks.ok_or_else(|| p.err(&format!("{path}.{name}.KeySchema"), "missing"))?;
                let projection = g.get("Projection");
                Ok(SecondaryIndex {
                    key_schema: key_schema(p, &format!("{path}.{name}.KeySchema"), ks)?,
                    projection_type: projection
                        .and_then(|pr| pr.get("ProjectionType"))
                        .and_then(Value::as_str)
                        .unwrap_or("ALL")
                        .to_string(),
                    non_key_attributes: projection
                        .and_then(|pr| pr.get("NonKeyAttributes"))
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    name,
                })
            })
            .collect()
    };
    let ttl = match p.get("TimeToLiveSpecification")? {
        None => None,
        Some(_) => Some(TimeToLive {
            attribute_name: p
                .string("TimeToLiveSpecification.AttributeName")?
                .ok_or_else(|| p.err("TimeToLiveSpecification.AttributeName", "missing"))?,
            enabled: p.bool("TimeToLiveSpecification.Enabled")?.unwrap_or(false),
        }),
    };
    Ok(Table {
        logical_id: p.id.to_string(),
        billing_mode: p.string("BillingMode")?,
        attribute_definitions,
        key_schema: key_schema(p, "KeySchema", &key_schema_v)?,
        global_secondary_indexes: index("GlobalSecondaryIndexes")?,
        local_secondary_indexes: index("LocalSecondaryIndexes")?,
        ttl,
    })
}

fn parse_queue(p: &Props) -> Result<Queue, TemplateError> {
    let redrive = match p.raw("RedrivePolicy") {
        None => None,
        Some(raw) => {
            // RedrivePolicy may also be a JSON string.
            let policy = match raw {
                Value::String(s) => serde_json::from_str(s)
                    .map_err(|e| p.err("RedrivePolicy", format!("invalid JSON: {e}")))?,
                other => other.clone(),
            };
            let target = policy.get("deadLetterTargetArn");
            let target =
                target.ok_or_else(|| p.err("RedrivePolicy.deadLetterTargetArn", "missing"))?;
            let (dlq, attr) = intrinsics::get_att_target(target).ok_or_else(|| {
                p.err(
                    "RedrivePolicy.deadLetterTargetArn",
                    "must be !GetAtt <Queue>.Arn of a queue of the template",
                )
            })?;
            if attr != "Arn" {
                return Err(p.err(
                    "RedrivePolicy.deadLetterTargetArn",
                    "must be !GetAtt <Queue>.Arn",
                ));
            }
            let count = policy
                .get("maxReceiveCount")
                .map(|v| p.scope.resolve_string(v));
            let count = count
                .ok_or_else(|| p.err("RedrivePolicy.maxReceiveCount", "missing"))?
                .map_err(|e| p.err("RedrivePolicy.maxReceiveCount", e))?;
            Some(Redrive {
                dead_letter_queue: dlq,
                max_receive_count: count
                    .parse()
                    .map_err(|_| p.err("RedrivePolicy.maxReceiveCount", "not a number"))?,
            })
        }
    };
    Ok(Queue {
        logical_id: p.id.to_string(),
        visibility_timeout: p.u32("VisibilityTimeout")?,
        message_retention_period: p.u32("MessageRetentionPeriod")?,
        delay_seconds: p.u32("DelaySeconds")?,
        receive_message_wait_time: p.u32("ReceiveMessageWaitTimeSeconds")?,
        maximum_message_size: p.u32("MaximumMessageSize")?,
        fifo: p.bool("FifoQueue")?.unwrap_or(false),
        content_based_deduplication: p.bool("ContentBasedDeduplication")?.unwrap_or(false),
        redrive,
    })
}

fn parse_secret(p: &Props) -> Result<Secret, TemplateError> {
    let value = if let Some(s) = p.string("SecretString")? {
        SecretValue::String(s)
    } else {
        let d = GenerateSecretString::default();
        let g = "GenerateSecretString";
        let b = |name: &str, default: bool| -> Result<bool, TemplateError> {
            Ok(p.bool(&format!("{g}.{name}"))?.unwrap_or(default))
        };
        SecretValue::Generate(GenerateSecretString {
            password_length: p
                .u64(&format!("{g}.PasswordLength"))?
                .map(|n| n as usize)
                .unwrap_or(d.password_length),
            exclude_characters: p
                .string(&format!("{g}.ExcludeCharacters"))?
                .unwrap_or_default(),
            exclude_lowercase: b("ExcludeLowercase", false)?,
            exclude_uppercase: b("ExcludeUppercase", false)?,
            exclude_numbers: b("ExcludeNumbers", false)?,
            exclude_punctuation: b("ExcludePunctuation", false)?,
            include_space: b("IncludeSpace", false)?,
            require_each_included_type: b("RequireEachIncludedType", true)?,
            secret_string_template: p.string(&format!("{g}.SecretStringTemplate"))?,
            generate_string_key: p.string(&format!("{g}.GenerateStringKey"))?,
        })
    };
    if let SecretValue::Generate(g) = &value {
        if g.password_length == 0 || g.password_length > 4096 {
            return Err(p.err("GenerateSecretString.PasswordLength", "must be 1..=4096"));
        }
        if g.secret_string_template.is_some() != g.generate_string_key.is_some() {
            return Err(p.err(
                "GenerateSecretString",
                "SecretStringTemplate and GenerateStringKey go together",
            ));
        }
    }
    Ok(Secret {
        logical_id: p.id.to_string(),
        description: p.string("Description")?,
        value,
    })
}

fn parse_function(p: &Props, metadata: Option<&Value>) -> Result<Function, TemplateError> {
    let binary = match metadata
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
    {
        None => None,
        Some(v) => Some(
            p.scope
                .resolve_string(v)
                .map_err(|e| p.err("Metadata.BuildProperties.Binary", e))?,
        ),
    };
    let mut environment = BTreeMap::new();
    if let Some(vars) = p.raw("Environment.Variables") {
        let vars = vars
            .as_object()
            .ok_or_else(|| p.err("Environment.Variables", "expected a mapping"))?;
        for (name, value) in vars {
            // Validate now (parameters, conditions, supported resource references).
            let path = format!("Environment.Variables.{name}");
            let resolved = p.env_scope.resolve(value).map_err(|e| p.err(&path, e))?;
            if !resolved.is_null() {
                intrinsics::scalar_to_string(&resolved).map_err(|e| p.err(&path, e))?;
                environment.insert(name.clone(), value.clone());
            }
        }
    }
    let mut http_events = vec![];
    let mut sqs_events = vec![];
    let mut schedule_events = vec![];
    if let Some(events) = p.raw("Events") {
        let events = events
            .as_object()
            .ok_or_else(|| p.err("Events", "expected a mapping"))?;
        for (name, ev) in events {
            let ty = ev.get("Type").and_then(Value::as_str).unwrap_or_default();
            let base = format!("Events.{name}.Properties");
            let prop = |k: &str| format!("{base}.{k}");
            match ty {
                "HttpApi" => {
                    let path = p.string(&prop("Path"))?;
                    let method = p.string(&prop("Method"))?;
                    let (path, method) = match (path, method) {
                        (None, None) => ("$default".to_string(), "ANY".to_string()),
                        (Some(path), Some(method)) => {
                            if !path.starts_with('/') {
                                return Err(p.err(&prop("Path"), "must start with /"));
                            }
                            let method = method.to_ascii_uppercase();
                            let method = if method == "*" {
                                "ANY".to_string()
                            } else {
                                method
                            };
                            (path, method)
                        }
                        _ => return Err(p.err(&base, "Path and Method go together")),
                    };
                    http_events.push(HttpEvent {
                        name: name.clone(),
                        method,
                        path,
                    });
                }
                "SQS" => {
                    let raw = p
                        .raw(&prop("Queue"))
                        .ok_or_else(|| p.err(&prop("Queue"), "missing"))?;
                    let queue = match intrinsics::get_att_target(raw) {
                        Some((q, attr)) if attr == "Arn" => q,
                        _ => {
                            return Err(p.err(
                                &prop("Queue"),
                                "must be !GetAtt <Queue>.Arn of a queue of the template",
                            ));
                        }
                    };
                    let types = p.list(&prop("FunctionResponseTypes"))?;
                    sqs_events.push(SqsEvent {
                        name: name.clone(),
                        queue,
                        batch_size: p.u32(&prop("BatchSize"))?.unwrap_or(10),
                        maximum_batching_window: Duration::from_secs(
                            p.u64(&prop("MaximumBatchingWindowInSeconds"))?.unwrap_or(0),
                        ),
                        report_batch_item_failures: types
                            .iter()
                            .any(|t| t.as_str() == Some("ReportBatchItemFailures")),
                        enabled: p.bool(&prop("Enabled"))?.unwrap_or(true),
                        maximum_concurrency: p.u32(&prop("ScalingConfig.MaximumConcurrency"))?,
                    });
                }
                "Schedule" | "ScheduleV2" => {
                    let kind = if ty == "Schedule" {
                        ScheduleKind::Rule
                    } else {
                        ScheduleKind::Scheduler
                    };
                    let expr_prop = prop(kind.expression_property());
                    let expression = p
                        .string(&expr_prop)?
                        .ok_or_else(|| p.err(&expr_prop, "missing"))?;
                    let expression =
                        ScheduleExpression::parse(&expression).map_err(|e| p.err(&expr_prop, e))?;
                    let enabled_flag = match kind {
                        ScheduleKind::Rule => p.bool(&prop("Enabled"))?,
                        ScheduleKind::Scheduler => None,
                    };
                    let state = p.string(&prop("State"))?;
                    if enabled_flag.is_some() && state.is_some() {
                        return Err(p.err(&base, "Enabled and State: give one of them, not both"));
                    }
                    let state_enabled = match state.as_deref() {
                        None => true,
                        Some("ENABLED") => true,
                        Some("DISABLED") => false,
                        Some("ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS")
                            if kind == ScheduleKind::Rule =>
                        {
                            true
                        }
                        Some(other) => {
                            return Err(p.err(
                                &prop("State"),
                                format!("expected ENABLED or DISABLED, got {other:?}"),
                            ));
                        }
                    };
                    let input = p.string(&prop("Input"))?;
                    if let Some(text) = &input {
                        serde_json::from_str::<Value>(text).map_err(|e| {
                            p.err(&prop("Input"), format!("must be valid JSON text: {e}"))
                        })?;
                    }
                    schedule_events.push(ScheduleEvent {
                        name: name.clone(),
                        kind,
                        expression,
                        enabled: enabled_flag.unwrap_or(true) && state_enabled,
                        input,
                        schedule_name: p.string(&prop("Name"))?,
                    });
                }
                _ => {}
            }
        }
    }
    Ok(Function {
        logical_id: p.id.to_string(),
        binary,
        timeout: Duration::from_secs(p.u64("Timeout")?.unwrap_or(3)),
        memory_size: p.u32("MemorySize")?.unwrap_or(128),
        environment,
        log_format: p.string("LoggingConfig.LogFormat")?,
        application_log_level: p.string("LoggingConfig.ApplicationLogLevel")?,
        http_events,
        sqs_events,
        schedule_events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn main_template() -> Template {
        Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml"))
            .expect("template.yaml parses")
    }

    #[test]
    fn real_template_functions_and_routes() {
        let t = main_template();
        assert_eq!(
            t.parameters["LogLevel"].value,
            Some(Value::String("info".into()))
        );
        let f = t.function("AdminApiFunction").expect("admin function");
        assert_eq!(f.binary.as_deref(), Some("admin-api"));
        // Globals: Timeout 10, MemorySize 256; env merged from Globals and the function.
        assert_eq!(f.timeout, Duration::from_secs(10));
        assert_eq!(f.memory_size, 256);
        assert_eq!(f.log_format.as_deref(), Some("JSON"));
        let env: Vec<_> = f.environment.keys().map(String::as_str).collect();
        assert_eq!(env, ["ADMIN_TOKEN_SECRET_ARN", "RUST_LOG", "TABLE_NAME"]);
        let mut routes: Vec<String> = t.http_routes().iter().map(|(_, e)| e.route_key()).collect();
        routes.sort();
        assert_eq!(
            routes,
            [
                "DELETE /admin/businesses/{business_id}",
                "GET /admin/businesses",
                "GET /admin/businesses/{business_id}",
                "GET /admin/businesses/{business_id}/voice-agent",
                "PATCH /admin/businesses/{business_id}",
                "POST /admin/businesses",
                "POST /admin/businesses/{business_id}/tool-secret",
                "POST /tools/{business_id}/check_availability",
                "POST /tools/{business_id}/create_booking",
                "POST /tools/{business_id}/find_bookings",
                "POST /tools/{business_id}/log_call",
                "POST /tools/{business_id}/transfer_call",
                "POST /tools/{business_id}/update_booking",
                "POST /tools/{business_id}/upsert_contact",
                "POST /webhooks/elevenlabs/call-init",
                "POST /webhooks/elevenlabs/post-call",
                "POST /webhooks/twilio/call-status",
                "POST /webhooks/twilio/sms-inbound",
                "POST /webhooks/twilio/sms-status",
                "POST /webhooks/twilio/voice",
                "POST /webhooks/twilio/voice/after-dial",
                "POST /webhooks/twilio/voice/after-ring-staff",
                "POST /webhooks/twilio/voice/agent",
                "POST /webhooks/twilio/voice/fallback",
                "POST /webhooks/twilio/voicemail/recorded",
                "POST /webhooks/twilio/voicemail/recording",
                "POST /webhooks/twilio/voicemail/transcription",
                "PUT /admin/businesses/{business_id}",
            ]
        );
        // Every routed or queue-driven function has a binary.
        assert!(t.functions.iter().all(|f| f.binary.is_some()));
    }

    #[test]
    fn real_template_table() {
        let t = main_template();
        let table = t.table("Table").expect("table");
        assert_eq!(table.billing_mode.as_deref(), Some("PAY_PER_REQUEST"));
        assert_eq!(
            table.key_schema,
            [
                KeyElement {
                    name: "pk".into(),
                    key_type: "HASH".into()
                },
                KeyElement {
                    name: "sk".into(),
                    key_type: "RANGE".into()
                },
            ]
        );
        assert_eq!(table.attribute_definitions.len(), 6);
        let gsis: Vec<_> = table
            .global_secondary_indexes
            .iter()
            .map(|g| g.name.as_str())
            .collect();
        assert_eq!(gsis, ["GSI1", "GSI2"]);
        let gsi2 = &table.global_secondary_indexes[1];
        assert_eq!(gsi2.key_schema[0].name, "gsi2pk");
        assert_eq!(gsi2.key_schema[1].key_type, "RANGE");
        assert_eq!(gsi2.projection_type, "ALL");
        assert_eq!(
            table.ttl,
            Some(TimeToLive {
                attribute_name: "expires_at".into(),
                enabled: true
            })
        );
    }

    #[test]
    fn real_template_queues_and_secrets() {
        let t = main_template();
        let q = t.queue("PostcallQueue").expect("queue");
        assert_eq!(q.visibility_timeout, Some(180));
        assert_eq!(q.message_retention_period, Some(345600));
        assert_eq!(
            q.redrive,
            Some(Redrive {
                dead_letter_queue: "PostcallDLQ".into(),
                max_receive_count: 5
            })
        );
        // Every main queue has a DLQ in the template, and DLQs have none.
        for q in &t.queues {
            if let Some(r) = &q.redrive {
                let dlq = t.queue(&r.dead_letter_queue).expect("dlq exists");
                assert!(dlq.redrive.is_none());
                assert_eq!(dlq.message_retention_period, Some(1209600));
            }
        }
        assert_eq!(t.queues.iter().filter(|q| q.redrive.is_some()).count(), 4);
        match &t.secret("AdminTokenSecret").unwrap().value {
            SecretValue::Generate(g) => {
                assert_eq!(g.password_length, 48);
                assert!(g.exclude_punctuation);
            }
            other => panic!("admin token should be generated: {other:?}"),
        }
        assert_eq!(
            t.secret("TwilioSecret").unwrap().value,
            SecretValue::String(r#"{"account_sid":"","auth_token":""}"#.into())
        );
        // Non-modelled resources are still listed.
        assert_eq!(t.resource_types["AlarmTopic"], "AWS::SNS::Topic");
    }

    const SMALL: &str = r#"
Parameters:
  Level: {Type: String, Default: debug}
  Enable: {Type: String, Default: "true"}
  Flag: {Type: String, Default: ""}
Conditions:
  HasFlag: !Not [!Equals [!Ref Flag, ""]]
Globals:
  Function:
    Timeout: 7
    Environment:
      Variables:
        A: global
        B: global
Resources:
  Q:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: "2"
      RedrivePolicy: {deadLetterTargetArn: {"Fn::GetAtt": ["D", "Arn"]}, maxReceiveCount: "2"}
  D:
    Type: AWS::SQS::Queue
  Optional:
    Type: AWS::SQS::Queue
    Condition: HasFlag
  Fn:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: consumer}}
    Properties:
      Timeout: 2
      Environment:
        Variables:
          B: local
          URL: !Ref Q
          ARN: {"Fn::GetAtt": "Q.Arn"}
          NAME: !Sub "${AWS::StackName}-${Level}"
          GONE: !If [HasFlag, x, !Ref "AWS::NoValue"]
      Events:
        Sqs:
          Type: SQS
          Properties:
            Queue: !GetAtt Q.Arn
            BatchSize: 5
            MaximumBatchingWindowInSeconds: 1
            FunctionResponseTypes: [ReportBatchItemFailures]
            Enabled: !Ref Enable
            ScalingConfig: {MaximumConcurrency: 3}
        Any:
          Type: HttpApi
          Properties: {Path: "/p/{proxy+}", Method: any}
"#;

    #[test]
    fn globals_merge_events_and_conditions() {
        let t = Template::parse(SMALL).unwrap();
        let f = t.function("Fn").unwrap();
        assert_eq!(f.timeout, Duration::from_secs(2));
        assert_eq!(f.memory_size, 128);
        assert_eq!(f.environment["A"], Value::String("global".into()));
        assert_eq!(f.environment["B"], Value::String("local".into()));
        assert!(!f.environment.contains_key("GONE"));
        assert_eq!(
            f.sqs_events,
            [SqsEvent {
                name: "Sqs".into(),
                queue: "Q".into(),
                batch_size: 5,
                maximum_batching_window: Duration::from_secs(1),
                report_batch_item_failures: true,
                enabled: true,
                maximum_concurrency: Some(3),
            }]
        );
        assert_eq!(f.http_events[0].route_key(), "ANY /p/{proxy+}");
        assert!(t.queue("Optional").is_none(), "condition false");
        let q = t.queue("Q").unwrap();
        assert_eq!(q.visibility_timeout, Some(2));
        assert_eq!(q.redrive.as_ref().unwrap().max_receive_count, 2);

        let mut overrides = BTreeMap::new();
        overrides.insert("Flag".to_string(), "on".to_string());
        overrides.insert("Enable".to_string(), "false".to_string());
        let t = Template::parse_with_parameters(SMALL, &overrides).unwrap();
        assert!(t.queue("Optional").is_some());
        let f = t.function("Fn").unwrap();
        assert!(f.environment.contains_key("GONE"));
        assert!(!f.sqs_events[0].enabled);
    }

    #[test]
    fn errors_name_resource_and_property() {
        let bad = SMALL.replace("Timeout: 2", "Timeout: !FindInMap [M, a, b]");
        let e = Template::parse(&bad).unwrap_err().to_string();
        assert!(
            e.contains("Fn") && e.contains("Timeout") && e.contains("Fn::FindInMap"),
            "{e}"
        );

        let bad = SMALL.replace("URL: !Ref Q", "URL: !GetAtt Q.Nope");
        let e = Template::parse(&bad).unwrap_err().to_string();
        assert!(
            e.contains("Environment.Variables.URL") && e.contains("Q.Nope"),
            "{e}"
        );

        let bad = SMALL.replace("Queue: !GetAtt Q.Arn", "Queue: !Ref Q");
        let e = Template::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("Events.Sqs.Properties.Queue"), "{e}");

        let bad = SMALL.replace("NAME: !Sub", "NAME: !ImportValue");
        let e = Template::parse(&bad).unwrap_err().to_string();
        assert!(e.contains("Fn::ImportValue"), "{e}");
    }

    const SCHEDULES: &str = r#"
Parameters:
  On: {Type: String, Default: "true"}
Resources:
  Jobs:
    Type: AWS::Serverless::Function
    Metadata: {BuildProperties: {Binary: jobs}}
    Properties:
      Events:
        Every5:
          Type: Schedule
          Properties: {Schedule: rate(5 minutes), Enabled: !Ref On, Name: reminders}
        Hourly:
          Type: Schedule
          Properties: {Schedule: "rate(1 hour)", State: DISABLED}
        Nightly:
          Type: ScheduleV2
          Properties:
            ScheduleExpression: cron(0  3 * * ? *)
            Input: '{"job": "nightly"}'
        Daily:
          Type: ScheduleV2
          Properties: {ScheduleExpression: rate(2 days), State: ENABLED}
        Api:
          Type: HttpApi
          Properties: {Path: /jobs, Method: POST}
"#;

    #[test]
    fn schedule_events() {
        let t = Template::parse(SCHEDULES).unwrap();
        let f = t.function("Jobs").unwrap();
        assert_eq!(f.http_events.len(), 1);
        let by_name: BTreeMap<&str, &ScheduleEvent> = f
            .schedule_events
            .iter()
            .map(|e| (e.name.as_str(), e))
            .collect();
        assert_eq!(
            *by_name["Every5"],
            ScheduleEvent {
                name: "Every5".into(),
                kind: ScheduleKind::Rule,
                expression: ScheduleExpression::Rate(Duration::from_secs(300)),
                enabled: true,
                input: None,
                schedule_name: Some("reminders".into()),
            }
        );
        let hourly = by_name["Hourly"];
        assert_eq!(hourly.expression.period(), Some(Duration::from_secs(3600)));
        assert!(!hourly.enabled);
        let nightly = by_name["Nightly"];
        assert_eq!(nightly.kind, ScheduleKind::Scheduler);
        assert_eq!(
            nightly.expression,
            ScheduleExpression::Cron("0 3 * * ? *".into())
        );
        assert_eq!(nightly.expression.period(), None);
        assert_eq!(nightly.input.as_deref(), Some(r#"{"job": "nightly"}"#));
        assert!(nightly.enabled);
        let daily = by_name["Daily"];
        assert_eq!(daily.expression.to_string(), "rate(2 days)");
        assert!(daily.enabled);
        assert_eq!(t.schedules().len(), 4);

        let mut overrides = BTreeMap::new();
        overrides.insert("On".to_string(), "false".to_string());
        let t = Template::parse_with_parameters(SCHEDULES, &overrides).unwrap();
        let every5 = &t.function("Jobs").unwrap().schedule_events;
        assert!(!every5.iter().find(|e| e.name == "Every5").unwrap().enabled);
    }

    #[test]
    fn schedule_expressions() {
        let rate = |s: &str| ScheduleExpression::parse(s).map(|e| e.period());
        assert_eq!(rate("rate(1 minute)"), Ok(Some(Duration::from_secs(60))));
        assert_eq!(
            rate(" rate(10 minutes) "),
            Ok(Some(Duration::from_secs(600)))
        );
        assert_eq!(rate("rate(1 hour)"), Ok(Some(Duration::from_secs(3600))));
        assert_eq!(rate("rate(3 hours)"), Ok(Some(Duration::from_secs(10800))));
        assert_eq!(rate("rate(1 day)"), Ok(Some(Duration::from_secs(86400))));
        for bad in [
            "rate(1 minutes)",
            "rate(5 minute)",
            "rate(0 minutes)",
            "rate(-1 minutes)",
            "rate(30 seconds)",
            "rate(x minutes)",
            "rate(5)",
            "rate(5 minutes extra)",
            "cron(0 9 * * ?)",
            "at(2030-01-01T00:00:00)",
            "every 5 minutes",
            "",
        ] {
            assert!(ScheduleExpression::parse(bad).is_err(), "{bad:?} accepted");
        }
        let e = ScheduleExpression::parse("rate(30 seconds)").unwrap_err();
        assert!(e.contains("unsupported unit"), "{e}");
        let e = ScheduleExpression::parse("at(2030-01-01T00:00:00)").unwrap_err();
        assert!(e.contains("not supported"), "{e}");
        for s in [
            "rate(1 minute)",
            "rate(90 minutes)",
            "rate(2 hours)",
            "rate(1 day)",
            "cron(0 9 ? * MON-FRI *)",
        ] {
            assert_eq!(ScheduleExpression::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn schedule_errors_name_the_property() {
        let err = |from: &str, to: &str| {
            let bad = SCHEDULES.replace(from, to);
            assert_ne!(bad, SCHEDULES, "{from} not in the fixture");
            Template::parse(&bad).unwrap_err().to_string()
        };
        let e = err("rate(5 minutes)", "rate(5 seconds)");
        assert!(
            e.contains("Jobs")
                && e.contains("Events.Every5.Properties.Schedule")
                && e.contains("rate(5 seconds)"),
            "{e}"
        );
        let e = err("cron(0  3 * * ? *)", "cron(0 3 * * ?)");
        assert!(
            e.contains("Events.Nightly.Properties.ScheduleExpression") && e.contains("6 fields"),
            "{e}"
        );
        let e = err("ScheduleExpression: rate(2 days)", "Schedule: rate(2 days)");
        assert!(
            e.contains("Events.Daily.Properties.ScheduleExpression: missing"),
            "{e}"
        );
        let e = err(r#"Input: '{"job": "nightly"}'"#, "Input: not json");
        assert!(
            e.contains("Events.Nightly.Properties.Input") && e.contains("JSON"),
            "{e}"
        );
        let e = err("State: DISABLED", "State: DISABLED, Enabled: false");
        assert!(
            e.contains("Events.Hourly.Properties") && e.contains("not both"),
            "{e}"
        );
        let e = err("State: ENABLED", "State: PAUSED");
        assert!(
            e.contains("Events.Daily.Properties.State") && e.contains("PAUSED"),
            "{e}"
        );
        let e = err("Enabled: !Ref On", "Enabled: maybe");
        assert!(e.contains("Events.Every5.Properties.Enabled"), "{e}");
    }
}
