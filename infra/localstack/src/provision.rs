//! Creates the template's tables, queues and secrets (idempotently) and resolves references
//! to them the way CloudFormation would.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use aws_config::SdkConfig;
use rand::Rng as _;
use serde::Serialize;
use serde_json::Value;

use crate::intrinsics::{self, ACCOUNT_ID, Pseudo, ResourceRefs, Scope};
use crate::template::{
    self, Function, GenerateSecretString, Queue, Secret, SecretValue, Table, Template,
};

/// Options of [`provision`].
#[derive(Debug, Clone, Default)]
pub struct ProvisionOptions {
    /// Secret values by logical id, used instead of `SecretString` / `GenerateSecretString`
    /// (and written to an already existing secret).
    pub secret_values: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhysicalTable {
    pub name: String,
    pub arn: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhysicalQueue {
    pub name: String,
    pub url: String,
    pub arn: String,
    /// Logical id of the dead-letter queue, when the queue has a redrive policy.
    pub dead_letter_queue: Option<String>,
    pub max_receive_count: Option<u32>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhysicalSecret {
    pub name: String,
    pub arn: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PhysicalFunction {
    pub name: String,
    pub arn: String,
}

/// A provisioned stack: physical resources by logical id.
#[derive(Debug, Clone, Serialize)]
pub struct Stack {
    pub name: String,
    pub region: String,
    pub account_id: String,
    pub tables: BTreeMap<String, PhysicalTable>,
    pub queues: BTreeMap<String, PhysicalQueue>,
    pub secrets: BTreeMap<String, PhysicalSecret>,
    /// Names the local stack gives the functions (`<stack>-<LogicalId>`); nothing is created.
    pub functions: BTreeMap<String, PhysicalFunction>,
    #[serde(skip)]
    template: Template,
}

/// Physical name of a table or queue: `<stack>-<LogicalId>` (`.fifo` appended for FIFO queues).
pub fn physical_name(stack_name: &str, logical_id: &str) -> String {
    format!("{stack_name}-{logical_id}")
}

/// Physical name of a secret: `<stack>/<LogicalId>`.
pub fn secret_name(stack_name: &str, logical_id: &str) -> String {
    format!("{stack_name}/{logical_id}")
}

fn validate_stack_name(name: &str) -> anyhow::Result<()> {
    let ok = name.len() <= 64
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if !ok {
        bail!(
            "invalid stack name {name:?}: a letter followed by letters, digits and hyphens, at most 64 characters"
        );
    }
    Ok(())
}

fn sdk_err<E>(e: E) -> anyhow::Error
where
    E: std::error::Error + Send + Sync + 'static,
{
    anyhow!("{}", aws_sdk_sqs::error::DisplayErrorContext(e))
}

/// Creates every table, queue and secret of `template` for `stack_name`, reusing those that
/// already exist. Safe to call again with the same stack name.
pub async fn provision(
    sdk: &SdkConfig,
    template: &Template,
    stack_name: &str,
    options: &ProvisionOptions,
) -> anyhow::Result<Stack> {
    validate_stack_name(stack_name)?;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sm = aws_sdk_secretsmanager::Client::new(sdk);

    let tables = async {
        let mut out = BTreeMap::new();
        for t in &template.tables {
            let p = create_table(&ddb, t, &physical_name(stack_name, &t.logical_id))
                .await
                .with_context(|| format!("creating table {}", t.logical_id))?;
            out.insert(t.logical_id.clone(), p);
        }
        anyhow::Ok(out)
    };
    let queues = create_queues(&sqs, &template.queues, stack_name);
    let secrets = async {
        let mut out = BTreeMap::new();
        for s in &template.secrets {
            let name = secret_name(stack_name, &s.logical_id);
            let p = create_secret(&sm, s, &name, options.secret_values.get(&s.logical_id))
                .await
                .with_context(|| format!("creating secret {}", s.logical_id))?;
            out.insert(s.logical_id.clone(), p);
        }
        anyhow::Ok(out)
    };
    let (tables, queues, secrets) = tokio::try_join!(tables, queues, secrets)?;
    let functions = template
        .functions
        .iter()
        .map(|f| {
            let name = physical_name(stack_name, &f.logical_id);
            let arn = format!("arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}");
            (f.logical_id.clone(), PhysicalFunction { name, arn })
        })
        .collect();
    Ok(Stack {
        name: stack_name.to_string(),
        region,
        account_id: ACCOUNT_ID.to_string(),
        tables,
        queues,
        secrets,
        functions,
        template: template.clone(),
    })
}

async fn create_table(
    ddb: &aws_sdk_dynamodb::Client,
    t: &Table,
    name: &str,
) -> anyhow::Result<PhysicalTable> {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        LocalSecondaryIndex, Projection, ProjectionType, ScalarAttributeType, TableStatus,
        TimeToLiveSpecification, TimeToLiveStatus,
    };
    let keys = |ks: &[template::KeyElement]| -> anyhow::Result<Vec<KeySchemaElement>> {
        ks.iter()
            .map(|k| {
                Ok(KeySchemaElement::builder()
                    .attribute_name(&k.name)
                    .key_type(KeyType::from(k.key_type.as_str()))
                    .build()?)
            })
            .collect()
    };
    let projection = |ix: &template::SecondaryIndex| {
        Projection::builder()
            .projection_type(ProjectionType::from(ix.projection_type.as_str()))
            .set_non_key_attributes(
                (!ix.non_key_attributes.is_empty()).then(|| ix.non_key_attributes.clone()),
            )
            .build()
    };
    // Local tables are always on-demand: capacity settings mean nothing locally.
    let mut req = ddb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(keys(&t.key_schema)?));
    for a in &t.attribute_definitions {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(&a.name)
                .attribute_type(ScalarAttributeType::from(a.attribute_type.as_str()))
                .build()?,
        );
    }
    for ix in &t.global_secondary_indexes {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(&ix.name)
                .set_key_schema(Some(keys(&ix.key_schema)?))
                .projection(projection(ix))
                .build()?,
        );
    }
    for ix in &t.local_secondary_indexes {
        req = req.local_secondary_indexes(
            LocalSecondaryIndex::builder()
                .index_name(&ix.name)
                .set_key_schema(Some(keys(&ix.key_schema)?))
                .projection(projection(ix))
                .build()?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(e) => return Err(sdk_err(e)),
    }
    let mut arn = None;
    for _ in 0..300 {
        let d = ddb
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(sdk_err)?;
        let table = d
            .table
            .ok_or_else(|| anyhow!("DescribeTable returned no table"))?;
        if table.table_status != Some(TableStatus::Creating) {
            arn = table.table_arn;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let arn = arn.ok_or_else(|| anyhow!("table {name} did not become ACTIVE"))?;
    if let Some(ttl) = t.ttl.as_ref().filter(|t| t.enabled) {
        let current = ddb
            .describe_time_to_live()
            .table_name(name)
            .send()
            .await
            .map_err(sdk_err)?;
        let status = current
            .time_to_live_description
            .and_then(|d| d.time_to_live_status);
        if !matches!(
            status,
            Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling)
        ) {
            ddb.update_time_to_live()
                .table_name(name)
                .time_to_live_specification(
                    TimeToLiveSpecification::builder()
                        .attribute_name(&ttl.attribute_name)
                        .enabled(true)
                        .build()?,
                )
                .send()
                .await
                .map_err(sdk_err)?;
        }
    }
    Ok(PhysicalTable {
        name: name.to_string(),
        arn,
    })
}

/// Creates queues so that every dead-letter queue exists before the queues redriving to it.
async fn create_queues(
    sqs: &aws_sdk_sqs::Client,
    queues: &[Queue],
    stack_name: &str,
) -> anyhow::Result<BTreeMap<String, PhysicalQueue>> {
    let mut done: BTreeMap<String, PhysicalQueue> = BTreeMap::new();
    while done.len() < queues.len() {
        let ready: Vec<&Queue> = queues
            .iter()
            .filter(|q| !done.contains_key(&q.logical_id))
            .filter(|q| {
                q.redrive
                    .as_ref()
                    .is_none_or(|r| done.contains_key(&r.dead_letter_queue))
            })
            .collect();
        if ready.is_empty() {
            bail!("the queues' redrive policies form a cycle");
        }
        for q in ready {
            let dlq_arn = q
                .redrive
                .as_ref()
                .map(|r| done[&r.dead_letter_queue].arn.clone());
            let p = create_queue(sqs, q, stack_name, dlq_arn)
                .await
                .with_context(|| format!("creating queue {}", q.logical_id))?;
            done.insert(q.logical_id.clone(), p);
        }
    }
    Ok(done)
}

async fn create_queue(
    sqs: &aws_sdk_sqs::Client,
    q: &Queue,
    stack_name: &str,
    dlq_arn: Option<String>,
) -> anyhow::Result<PhysicalQueue> {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let mut name = physical_name(stack_name, &q.logical_id);
    if q.fifo {
        name.push_str(".fifo");
    }
    let mut attrs: HashMap<A, String> = HashMap::new();
    let mut num = |k: A, v: Option<u32>| {
        if let Some(v) = v {
            attrs.insert(k, v.to_string());
        }
    };
    num(A::VisibilityTimeout, q.visibility_timeout);
    num(A::MessageRetentionPeriod, q.message_retention_period);
    num(A::DelaySeconds, q.delay_seconds);
    num(
        A::ReceiveMessageWaitTimeSeconds,
        q.receive_message_wait_time,
    );
    num(A::MaximumMessageSize, q.maximum_message_size);
    if let (Some(r), Some(arn)) = (&q.redrive, &dlq_arn) {
        let policy = serde_json::json!({
            "deadLetterTargetArn": arn,
            "maxReceiveCount": r.max_receive_count,
        });
        attrs.insert(A::RedrivePolicy, policy.to_string());
    }
    if q.fifo && q.content_based_deduplication {
        attrs.insert(A::ContentBasedDeduplication, "true".into());
    }
    let url = match sqs.get_queue_url().queue_name(&name).send().await {
        Ok(found) => {
            let url = found
                .queue_url
                .ok_or_else(|| anyhow!("GetQueueUrl returned no URL"))?;
            if !attrs.is_empty() {
                sqs.set_queue_attributes()
                    .queue_url(&url)
                    .set_attributes(Some(attrs))
                    .send()
                    .await
                    .map_err(sdk_err)?;
            }
            url
        }
        Err(_) => {
            if q.fifo {
                attrs.insert(A::FifoQueue, "true".into());
            }
            let created = sqs
                .create_queue()
                .queue_name(&name)
                .set_attributes((!attrs.is_empty()).then_some(attrs))
                .send()
                .await
                .map_err(sdk_err)?;
            created
                .queue_url
                .ok_or_else(|| anyhow!("CreateQueue returned no URL"))?
        }
    };
    let got = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(A::QueueArn)
        .send()
        .await
        .map_err(sdk_err)?;
    let arn = got
        .attributes
        .and_then(|mut a| a.remove(&A::QueueArn))
        .ok_or_else(|| anyhow!("GetQueueAttributes returned no QueueArn"))?;
    Ok(PhysicalQueue {
        name,
        url,
        arn,
        dead_letter_queue: q.redrive.as_ref().map(|r| r.dead_letter_queue.clone()),
        max_receive_count: q.redrive.as_ref().map(|r| r.max_receive_count),
    })
}

async fn create_secret(
    sm: &aws_sdk_secretsmanager::Client,
    s: &Secret,
    name: &str,
    override_value: Option<&String>,
) -> anyhow::Result<PhysicalSecret> {
    let initial = match (override_value, &s.value) {
        (Some(v), _) => v.clone(),
        (None, SecretValue::String(v)) => v.clone(),
        (None, SecretValue::Generate(g)) => generate_secret_string(g)?,
    };
    let created = sm
        .create_secret()
        .name(name)
        .set_description(s.description.clone())
        .secret_string(&initial)
        .send()
        .await;
    match created {
        Ok(out) => {
            let arn = out
                .arn
                .ok_or_else(|| anyhow!("CreateSecret returned no ARN"))?;
            Ok(PhysicalSecret {
                name: name.to_string(),
                arn,
                value: initial,
            })
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_exists_exception()) =>
        {
            let d = sm
                .describe_secret()
                .secret_id(name)
                .send()
                .await
                .map_err(sdk_err)?;
            let arn = d
                .arn
                .ok_or_else(|| anyhow!("DescribeSecret returned no ARN"))?;
            let value = if let Some(v) = override_value {
                sm.put_secret_value()
                    .secret_id(&arn)
                    .secret_string(v)
                    .send()
                    .await
                    .map_err(sdk_err)?;
                v.clone()
            } else {
                let got = sm
                    .get_secret_value()
                    .secret_id(&arn)
                    .send()
                    .await
                    .map_err(sdk_err)?;
                got.secret_string.unwrap_or_default()
            };
            Ok(PhysicalSecret {
                name: name.to_string(),
                arn,
                value,
            })
        }
        Err(e) => Err(sdk_err(e)),
    }
}

/// Punctuation of Secrets Manager's `GetRandomPassword`.
const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// A random value following `GenerateSecretString` (like Secrets Manager `GetRandomPassword`).
pub fn generate_secret_string(g: &GenerateSecretString) -> anyhow::Result<String> {
    let mut classes: Vec<Vec<char>> = vec![];
    let mut add = |exclude: bool, chars: &str| {
        if !exclude {
            let set: Vec<char> = chars
                .chars()
                .filter(|c| !g.exclude_characters.contains(*c))
                .collect();
            if !set.is_empty() {
                classes.push(set);
            }
        }
    };
    add(g.exclude_lowercase, "abcdefghijklmnopqrstuvwxyz");
    add(g.exclude_uppercase, "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    add(g.exclude_numbers, "0123456789");
    add(g.exclude_punctuation, PUNCTUATION);
    add(!g.include_space, " ");
    let all: Vec<char> = classes.iter().flatten().copied().collect();
    if all.is_empty() {
        bail!("GenerateSecretString excludes every character");
    }
    let must_cover = g.require_each_included_type && g.password_length >= classes.len();
    let mut rng = rand::rng();
    let password = loop {
        let candidate: String = (0..g.password_length)
            .map(|_| all[rng.random_range(0..all.len())])
            .collect();
        if !must_cover
            || classes
                .iter()
                .all(|c| candidate.chars().any(|ch| c.contains(&ch)))
        {
            break candidate;
        }
    };
    match (&g.secret_string_template, &g.generate_string_key) {
        (Some(template), Some(key)) => {
            let mut obj: serde_json::Map<String, Value> = serde_json::from_str(template)
                .context("GenerateSecretString.SecretStringTemplate is not a JSON object")?;
            obj.insert(key.clone(), Value::String(password));
            Ok(Value::Object(obj).to_string())
        }
        _ => Ok(password),
    }
}

impl Stack {
    /// The template this stack was provisioned from.
    pub fn template(&self) -> &Template {
        &self.template
    }

    pub fn table(&self, logical_id: &str) -> Option<&PhysicalTable> {
        self.tables.get(logical_id)
    }

    pub fn queue(&self, logical_id: &str) -> Option<&PhysicalQueue> {
        self.queues.get(logical_id)
    }

    pub fn secret(&self, logical_id: &str) -> Option<&PhysicalSecret> {
        self.secrets.get(logical_id)
    }

    /// Resolves intrinsics against this stack like CloudFormation: `Ref` of a table → name,
    /// of a queue → URL, of a secret → ARN, of a function → name; `Fn::GetAtt` `Arn`,
    /// `QueueName`, `QueueUrl`; pseudo parameters; parameters by their value.
    pub fn resolve(&self, value: &Value) -> Result<Value, String> {
        let pseudo = Pseudo {
            stack_name: Some(self.name.clone()),
            region: Some(self.region.clone()),
        };
        Scope {
            parameters: &self.template.parameters,
            conditions: &self.template.conditions,
            pseudo: &pseudo,
            resources: self,
        }
        .resolve(value)
    }

    /// The function's resolved `Environment.Variables`.
    pub fn function_environment(&self, f: &Function) -> anyhow::Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        for (name, raw) in &f.environment {
            let v = self
                .resolve(raw)
                .and_then(|v| match v {
                    Value::Null => Ok(None),
                    v => intrinsics::scalar_to_string(&v).map(Some),
                })
                .map_err(|e| {
                    anyhow!(
                        "resource {}, property Environment.Variables.{name}: {e}",
                        f.logical_id
                    )
                })?;
            if let Some(v) = v {
                out.insert(name.clone(), v);
            }
        }
        Ok(out)
    }
}

impl ResourceRefs for Stack {
    fn resource_ref(&self, id: &str) -> Option<Result<String, String>> {
        let ty = self.template.resource_types.get(id)?;
        Some(if let Some(t) = self.tables.get(id) {
            Ok(t.name.clone())
        } else if let Some(q) = self.queues.get(id) {
            Ok(q.url.clone())
        } else if let Some(s) = self.secrets.get(id) {
            Ok(s.arn.clone())
        } else if let Some(f) = self.functions.get(id) {
            Ok(f.name.clone())
        } else {
            Err(format!(
                "Ref to {ty} {id} is not supported by the local stack"
            ))
        })
    }

    fn get_att(&self, id: &str, attr: &str) -> Option<Result<String, String>> {
        let ty = self.template.resource_types.get(id)?;
        let found = match attr {
            "Arn" => self
                .tables
                .get(id)
                .map(|t| t.arn.clone())
                .or_else(|| self.queues.get(id).map(|q| q.arn.clone()))
                .or_else(|| self.functions.get(id).map(|f| f.arn.clone())),
            "QueueName" => self.queues.get(id).map(|q| q.name.clone()),
            "QueueUrl" => self.queues.get(id).map(|q| q.url.clone()),
            "Id" => self.secrets.get(id).map(|s| s.arn.clone()),
            _ => None,
        };
        Some(found.ok_or_else(|| {
            format!("Fn::GetAtt {id}.{attr} ({ty}) is not supported by the local stack")
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_follow_the_rules() {
        let g = GenerateSecretString {
            password_length: 48,
            exclude_punctuation: true,
            ..Default::default()
        };
        let a = generate_secret_string(&g).unwrap();
        let b = generate_secret_string(&g).unwrap();
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert!(a.chars().any(|c| c.is_ascii_digit()), "{a}");
        assert!(a.chars().any(|c| c.is_ascii_uppercase()), "{a}");

        let g = GenerateSecretString {
            password_length: 20,
            exclude_characters: "abc".into(),
            exclude_uppercase: true,
            exclude_numbers: true,
            secret_string_template: Some(r#"{"user":"u"}"#.into()),
            generate_string_key: Some("password".into()),
            ..Default::default()
        };
        let v: Value = serde_json::from_str(&generate_secret_string(&g).unwrap()).unwrap();
        assert_eq!(v["user"], "u");
        let p = v["password"].as_str().unwrap();
        assert_eq!(p.len(), 20);
        assert!(!p.contains(['a', 'b', 'c']) && !p.chars().any(|c| c.is_ascii_uppercase()));
        assert!(p.chars().any(|c| PUNCTUATION.contains(c)), "{p}");
    }

    #[test]
    fn resolves_function_environment_like_cloudformation() {
        let template =
            Template::load(concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml")).unwrap();
        let mut stack = Stack {
            name: "st".into(),
            region: "eu-west-1".into(),
            account_id: ACCOUNT_ID.into(),
            tables: BTreeMap::new(),
            queues: BTreeMap::new(),
            secrets: BTreeMap::new(),
            functions: BTreeMap::new(),
            template: template.clone(),
        };
        stack.tables.insert(
            "Table".into(),
            PhysicalTable {
                name: "st-Table".into(),
                arn: "arn:table".into(),
            },
        );
        stack.secrets.insert(
            "AdminTokenSecret".into(),
            PhysicalSecret {
                name: "st/AdminTokenSecret".into(),
                arn: "arn:secret".into(),
                value: "x".into(),
            },
        );
        stack.queues.insert(
            "PostcallQueue".into(),
            PhysicalQueue {
                name: "st-PostcallQueue".into(),
                url: "http://q/st-PostcallQueue".into(),
                arn: "arn:q".into(),
                dead_letter_queue: None,
                max_receive_count: None,
            },
        );
        let env = stack
            .function_environment(template.function("AdminApiFunction").unwrap())
            .unwrap();
        assert_eq!(env["TABLE_NAME"], "st-Table");
        assert_eq!(env["ADMIN_TOKEN_SECRET_ARN"], "arn:secret");
        assert_eq!(env["RUST_LOG"], "info");
        let r = |v: Value| stack.resolve(&v).unwrap();
        use serde_json::json;
        assert_eq!(
            r(json!({"Ref": "PostcallQueue"})),
            json!("http://q/st-PostcallQueue")
        );
        assert_eq!(
            r(json!({"Fn::GetAtt": ["PostcallQueue", "QueueName"]})),
            json!("st-PostcallQueue")
        );
        assert_eq!(
            r(
                json!({"Fn::Sub": "${AWS::StackName}|${AWS::Region}|${AWS::AccountId}|${Table.Arn}"})
            ),
            json!("st|eu-west-1|123456789012|arn:table")
        );
        let e = stack.resolve(&json!({"Ref": "AlarmTopic"})).unwrap_err();
        assert!(e.contains("AWS::SNS::Topic"), "{e}");
    }
}
