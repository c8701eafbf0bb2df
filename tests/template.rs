//! Invariants of template.yaml that cfn-lint does not check.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use frontdesk_localstack::template::Template;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn template() -> Template {
    Template::load(root().join("template.yaml")).expect("template.yaml parses")
}

/// AWS guidance: a queue's visibility timeout is at least 6x its consumer's timeout
/// (cfn-lint only checks this after SAM translation, which it does not do).
#[test]
fn sqs_visibility_is_at_least_six_times_the_consumer_timeout() {
    let t = template();
    for f in &t.functions {
        for e in &f.sqs_events {
            let q = t
                .queue(&e.queue)
                .unwrap_or_else(|| panic!("{} reads unknown queue {}", f.logical_id, e.queue));
            let visibility = u64::from(q.visibility_timeout.unwrap_or(30));
            assert!(
                visibility >= 6 * f.timeout.as_secs(),
                "{}: visibility {visibility}s < 6 x {}s timeout of {}",
                q.logical_id,
                f.timeout.as_secs(),
                f.logical_id
            );
            assert!(
                e.report_batch_item_failures,
                "{} must report partial batch failures",
                f.logical_id
            );
        }
    }
}

/// Every queue has a dead-letter queue, every DLQ keeps messages 14 days and has a depth alarm.
#[test]
fn every_queue_has_a_dlq_with_an_alarm() {
    let t = template();
    let dlqs: BTreeSet<&str> = t
        .queues
        .iter()
        .filter_map(|q| q.redrive.as_ref())
        .map(|r| r.dead_letter_queue.as_str())
        .collect();
    assert!(!dlqs.is_empty());
    for q in &t.queues {
        if dlqs.contains(q.logical_id.as_str()) {
            assert_eq!(
                q.message_retention_period,
                Some(1_209_600),
                "{} keeps failed messages 14 days",
                q.logical_id
            );
            let alarm = format!("{}Alarm", q.logical_id);
            assert_eq!(
                t.resource_types.get(&alarm).map(String::as_str),
                Some("AWS::CloudWatch::Alarm"),
                "{alarm} is missing"
            );
        } else {
            let r = q
                .redrive
                .as_ref()
                .unwrap_or_else(|| panic!("{} has no dead-letter queue", q.logical_id));
            assert!(
                r.max_receive_count >= 5,
                "{}: maxReceiveCount {} < 5",
                q.logical_id,
                r.max_receive_count
            );
        }
    }
}

/// Template functions and workspace function crates match one to one.
#[test]
fn every_function_has_a_crate_and_every_crate_a_function() {
    let t = template();
    let in_template: BTreeSet<String> = t
        .functions
        .iter()
        .map(|f| {
            f.binary
                .clone()
                .unwrap_or_else(|| panic!("{} has no BuildProperties.Binary", f.logical_id))
        })
        .collect();
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(in_template, crates);
    for f in &t.functions {
        assert_eq!(
            f.log_format.as_deref(),
            Some("JSON"),
            "{} logs JSON",
            f.logical_id
        );
    }
}

/// Every route has a sample event in events/ with its route key.
#[test]
fn every_route_has_a_sample_event() {
    let t = template();
    let mut sampled = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("events")).unwrap() {
        let path = entry.unwrap().path();
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if let Some(rk) = v["routeKey"].as_str() {
            sampled.insert(rk.to_owned());
        }
    }
    for (f, e) in t.http_routes() {
        assert!(
            sampled.contains(&e.route_key()),
            "no events/ sample for {} ({})",
            e.route_key(),
            f.logical_id
        );
    }
}

/// The table's indexes and TTL are the ones the code's keys module names.
#[test]
fn table_matches_the_key_design() {
    use frontdesk_app::keys;
    let t = template();
    let table = t.table("Table").expect("Table");
    let names: Vec<&str> = table.key_schema.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(names, [keys::PK, keys::SK]);
    let gsi1 = table
        .global_secondary_indexes
        .iter()
        .find(|i| i.name == keys::GSI1)
        .expect("GSI1");
    assert_eq!(
        gsi1.key_schema
            .iter()
            .map(|k| k.name.as_str())
            .collect::<Vec<_>>(),
        [keys::GSI1PK, keys::GSI1SK]
    );
    assert_eq!(
        table
            .ttl
            .as_ref()
            .map(|t| (t.attribute_name.as_str(), t.enabled)),
        Some(("expires_at", true))
    );
}
