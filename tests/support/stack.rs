//! An isolated copy of the template's resources on moto for one test.

use aws_config::SdkConfig;
use frontdesk_localstack::{ProvisionOptions, Stack, Template, provision};

use crate::moto;

/// Tables, queues and secrets of a template provisioned under a unique stack name.
pub struct TestStack {
    sdk: SdkConfig,
    stack: Stack,
}

impl TestStack {
    /// Provisions template.yaml; `secrets` sets secret values by logical id.
    pub async fn provision(secrets: &[(&str, &str)]) -> TestStack {
        let template = Template::load(moto::workspace_root().join("template.yaml"))
            .expect("template.yaml parses");
        Self::provision_template(&template, secrets).await
    }

    /// Provisions `template` under a unique stack name.
    pub async fn provision_template(template: &Template, secrets: &[(&str, &str)]) -> TestStack {
        let sdk = moto::sdk_config().await;
        let options = ProvisionOptions {
            secret_values: secrets
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        let name = moto::unique_stack_name("stack");
        let stack = provision(&sdk, template, &name, &options)
            .await
            .unwrap_or_else(|e| panic!("provisioning {name} on {}: {e:#}", moto::endpoint()));
        TestStack { sdk, stack }
    }

    pub fn sdk(&self) -> &SdkConfig {
        &self.sdk
    }

    /// Physical resources and reference resolution.
    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    pub fn name(&self) -> &str {
        &self.stack.name
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }

    pub fn secrets_manager(&self) -> aws_sdk_secretsmanager::Client {
        aws_sdk_secretsmanager::Client::new(&self.sdk)
    }

    /// Physical table name of a logical id.
    pub fn table(&self, logical_id: &str) -> String {
        let t = self.stack.table(logical_id);
        t.unwrap_or_else(|| panic!("no table {logical_id}"))
            .name
            .clone()
    }

    /// Queue URL of a logical id.
    pub fn queue_url(&self, logical_id: &str) -> String {
        let q = self.stack.queue(logical_id);
        q.unwrap_or_else(|| panic!("no queue {logical_id}"))
            .url
            .clone()
    }

    /// Secret ARN of a logical id.
    pub fn secret_arn(&self, logical_id: &str) -> String {
        let s = self.stack.secret(logical_id);
        s.unwrap_or_else(|| panic!("no secret {logical_id}"))
            .arn
            .clone()
    }

    /// Secret value as provisioned (generated or given).
    pub fn secret_value(&self, logical_id: &str) -> String {
        let s = self.stack.secret(logical_id);
        s.unwrap_or_else(|| panic!("no secret {logical_id}"))
            .value
            .clone()
    }

    /// Writes a new value of a secret (PutSecretValue).
    pub async fn set_secret(&self, logical_id: &str, value: &str) {
        self.secrets_manager()
            .put_secret_value()
            .secret_id(self.secret_arn(logical_id))
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("PutSecretValue {logical_id}: {e:?}"));
    }
}
