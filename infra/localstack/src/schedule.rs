//! Scheduled invocations: `Schedule` (EventBridge rule) and `ScheduleV2` (EventBridge
//! Scheduler) events run as a ticker per schedule that invokes the function with the
//! scheduled-event payload (or the event's `Input`).
//!
//! `rate(...)` schedules tick every period, the first tick one period after start (as a new
//! rule on AWS). `cron(...)` schedules only run when a period override is given, at that
//! period. A period override (`LocalStackConfig::schedule_period_override`,
//! `frontdesk-local --schedule-every`) replaces every enabled schedule's period. Disabled
//! schedules never run. Invocations are asynchronous like EventBridge's: a slow function does
//! not delay the next tick (ticks wait for a free instance like any invocation); failures
//! are counted and logged, not retried.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use crate::runtime::FunctionPool;
use crate::template::{ScheduleExpression, ScheduleKind};

/// One schedule of one function.
#[derive(Debug, Clone)]
pub struct ScheduleConfig {
    /// Logical id of the function.
    pub function: String,
    /// Event name in the template.
    pub event: String,
    pub kind: ScheduleKind,
    pub expression: ScheduleExpression,
    pub enabled: bool,
    /// `Input`: sent as is instead of the scheduled-event payload.
    pub input: Option<String>,
    /// ARN of the rule / schedule (`resources` of the event).
    pub resource_arn: String,
    pub region: String,
    pub account_id: String,
    /// Interval between ticks; `None` = not run (disabled, or cron without an override).
    pub period: Option<Duration>,
}

impl ScheduleConfig {
    /// The effective period: the override for every enabled schedule, else the rate.
    pub fn effective_period(
        expression: &ScheduleExpression,
        enabled: bool,
        period_override: Option<Duration>,
    ) -> Option<Duration> {
        if !enabled {
            return None;
        }
        period_override
            .or(expression.period())
            .map(|p| p.max(Duration::from_millis(10)))
    }

    /// Why it does not run, when it does not.
    pub fn idle_reason(&self) -> Option<&'static str> {
        match (self.enabled, self.period) {
            (false, _) => Some("disabled"),
            (true, None) => Some("cron: not run locally without --schedule-every"),
            (true, Some(_)) => None,
        }
    }

    /// The payload of one tick at `time`.
    pub fn payload(&self, time: DateTime<Utc>) -> String {
        match &self.input {
            Some(input) => input.clone(),
            None => scheduled_event(
                self.kind,
                &uuid::Uuid::new_v4().to_string(),
                time,
                &self.account_id,
                &self.region,
                &self.resource_arn,
            )
            .to_string(),
        }
    }
}

/// ARN of the rule (`Schedule`) or schedule (`ScheduleV2`) behind an event, named by the
/// event's `Name` or else `<stack>-<Function><Event>` (rules) / `<stack>-<Function><Event>`
/// in the `default` group (schedules).
pub fn resource_arn(
    kind: ScheduleKind,
    region: &str,
    account_id: &str,
    stack_name: &str,
    function: &str,
    event: &str,
    name: Option<&str>,
) -> String {
    let generated = format!("{stack_name}-{function}{event}");
    let name = name.unwrap_or(&generated);
    match kind {
        ScheduleKind::Rule => format!("arn:aws:events:{region}:{account_id}:rule/{name}"),
        ScheduleKind::Scheduler => {
            format!("arn:aws:scheduler:{region}:{account_id}:schedule/default/{name}")
        }
    }
}

/// The event EventBridge sends for a scheduled rule (`source` `aws.events`, `detail` `{}`), or
/// EventBridge Scheduler's default notification (`source` `aws.scheduler`, `detail` `"{}"`).
pub fn scheduled_event(
    kind: ScheduleKind,
    id: &str,
    time: DateTime<Utc>,
    account_id: &str,
    region: &str,
    resource_arn: &str,
) -> Value {
    let (source, detail) = match kind {
        ScheduleKind::Rule => ("aws.events", json!({})),
        ScheduleKind::Scheduler => ("aws.scheduler", json!("{}")),
    };
    json!({
        "version": "0",
        "id": id,
        "detail-type": "Scheduled Event",
        "source": source,
        "account": account_id,
        "time": time.to_rfc3339_opts(SecondsFormat::Secs, true),
        "region": region,
        "resources": [resource_arn],
        "detail": detail,
    })
}

/// Counters of a schedule.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScheduleStats {
    pub ticks: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Time of the last tick (RFC 3339).
    pub last_tick: Option<String>,
    pub last_error: Option<String>,
}

/// A running schedule; stops when dropped or on [`ScheduleTicker::stop`].
pub struct ScheduleTicker {
    config: ScheduleConfig,
    task: Option<JoinHandle<()>>,
    stats: Arc<Mutex<ScheduleStats>>,
}

impl Drop for ScheduleTicker {
    fn drop(&mut self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

impl ScheduleTicker {
    /// Starts ticking every `config.period` (nothing runs when it is `None`).
    pub fn start(config: ScheduleConfig, function: FunctionPool) -> ScheduleTicker {
        let stats = Arc::new(Mutex::new(ScheduleStats::default()));
        let task = config.period.map(|period| {
            let config = config.clone();
            let stats = stats.clone();
            tokio::spawn(async move {
                let start = tokio::time::Instant::now() + period;
                let mut interval = tokio::time::interval_at(start, period);
                interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    interval.tick().await;
                    let now = Utc::now();
                    let payload = config.payload(now);
                    {
                        let mut s = stats.lock().expect("schedule stats");
                        s.ticks += 1;
                        s.last_tick = Some(now.to_rfc3339_opts(SecondsFormat::Millis, true));
                    }
                    let function = function.clone();
                    let stats = stats.clone();
                    let label = format!("{} {}", config.function, config.event);
                    tokio::spawn(async move {
                        let result = function.invoke(payload).await;
                        let mut s = stats.lock().expect("schedule stats");
                        match result {
                            Ok(_) => s.succeeded += 1,
                            Err(e) => {
                                tracing::warn!("scheduled invocation of {label} failed: {e}");
                                s.failed += 1;
                                s.last_error = Some(e.to_string());
                            }
                        }
                    });
                }
            })
        });
        if let Some(reason) = config.idle_reason() {
            tracing::info!(
                "schedule {} {} ({}) not run: {reason}",
                config.function,
                config.event,
                config.expression
            );
        }
        ScheduleTicker {
            config,
            task,
            stats,
        }
    }

    pub fn config(&self) -> &ScheduleConfig {
        &self.config
    }

    pub fn stats(&self) -> ScheduleStats {
        self.stats.lock().expect("schedule stats").clone()
    }

    /// Whether it ticks at all.
    pub fn running(&self) -> bool {
        self.task.is_some()
    }

    /// Stops ticking (invocations already started run to their end).
    pub fn stop(&self) {
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduled_event_payloads() {
        let time = DateTime::parse_from_rfc3339("2025-03-04T05:06:07.891Z")
            .unwrap()
            .with_timezone(&Utc);
        let arn = resource_arn(
            ScheduleKind::Rule,
            "us-east-1",
            "123456789012",
            "st",
            "JobsFunction",
            "Tick",
            None,
        );
        assert_eq!(
            arn,
            "arn:aws:events:us-east-1:123456789012:rule/st-JobsFunctionTick"
        );
        let e = scheduled_event(
            ScheduleKind::Rule,
            "id-1",
            time,
            "123456789012",
            "us-east-1",
            &arn,
        );
        assert_eq!(
            e,
            json!({
                "version": "0",
                "id": "id-1",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "123456789012",
                "time": "2025-03-04T05:06:07Z",
                "region": "us-east-1",
                "resources": ["arn:aws:events:us-east-1:123456789012:rule/st-JobsFunctionTick"],
                "detail": {},
            })
        );
        let arn = resource_arn(
            ScheduleKind::Scheduler,
            "eu-west-1",
            "1",
            "st",
            "F",
            "E",
            Some("nightly"),
        );
        assert_eq!(
            arn,
            "arn:aws:scheduler:eu-west-1:1:schedule/default/nightly"
        );
        let e = scheduled_event(ScheduleKind::Scheduler, "x", time, "1", "eu-west-1", &arn);
        assert_eq!(e["source"], "aws.scheduler");
        assert_eq!(e["detail"], "{}");
        assert_eq!(e["resources"], json!([arn]));
    }

    #[test]
    fn periods_and_input() {
        let rate = ScheduleExpression::Rate(Duration::from_secs(300));
        let cron = ScheduleExpression::Cron("0 9 * * ? *".into());
        let fast = Some(Duration::from_millis(200));
        assert_eq!(
            ScheduleConfig::effective_period(&rate, true, None),
            Some(Duration::from_secs(300))
        );
        assert_eq!(ScheduleConfig::effective_period(&rate, true, fast), fast);
        assert_eq!(ScheduleConfig::effective_period(&rate, false, fast), None);
        assert_eq!(ScheduleConfig::effective_period(&cron, true, None), None);
        assert_eq!(ScheduleConfig::effective_period(&cron, true, fast), fast);
        let config = ScheduleConfig {
            function: "F".into(),
            event: "E".into(),
            kind: ScheduleKind::Rule,
            expression: cron,
            enabled: true,
            input: Some(r#"{"job":"x"}"#.into()),
            resource_arn: "arn".into(),
            region: "us-east-1".into(),
            account_id: "1".into(),
            period: None,
        };
        assert_eq!(config.payload(Utc::now()), r#"{"job":"x"}"#);
        assert!(config.idle_reason().unwrap().contains("cron"));
        let config = ScheduleConfig {
            input: None,
            ..config
        };
        let v: Value = serde_json::from_str(&config.payload(Utc::now())).unwrap();
        assert_eq!(v["detail-type"], "Scheduled Event");
        assert_eq!(v["resources"], json!(["arn"]));
    }

    #[tokio::test]
    async fn a_ticker_invokes_its_function_every_period() {
        // A function whose executable does not exist: every invocation fails, and counts.
        let pool = FunctionPool::new(crate::runtime::FunctionConfig::new(
            "Missing",
            "/nonexistent/frontdesk-schedule-test",
        ));
        let config = ScheduleConfig {
            function: "Missing".into(),
            event: "Tick".into(),
            kind: ScheduleKind::Rule,
            expression: ScheduleExpression::Rate(Duration::from_secs(60)),
            enabled: true,
            input: None,
            resource_arn: "arn".into(),
            region: "us-east-1".into(),
            account_id: "1".into(),
            period: Some(Duration::from_millis(50)),
        };
        let ticker = ScheduleTicker::start(config, pool.clone());
        assert!(ticker.running());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while ticker.stats().failed < 3 {
            assert!(std::time::Instant::now() < deadline, "{:?}", ticker.stats());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let s = ticker.stats();
        assert!(s.ticks >= 3 && s.succeeded == 0, "{s:?}");
        assert!(s.last_error.is_some() && s.last_tick.is_some());
        ticker.stop();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let after = ticker.stats().ticks;
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(ticker.stats().ticks, after, "stopped tickers do not tick");

        let disabled = ScheduleTicker::start(
            ScheduleConfig {
                enabled: false,
                period: None,
                ..ticker.config().clone()
            },
            pool,
        );
        assert!(!disabled.running());
        assert_eq!(disabled.config().idle_reason(), Some("disabled"));
    }
}
