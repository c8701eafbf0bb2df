//! Helpers shared by the pipeline and voice tests: run the post-call chain to the end, and
//! build signed Twilio webhook requests.

use std::collections::BTreeMap;

use frontdesk_app::postcall::stages::{Stage, run};
use frontdesk_app::postcall::webhook::Pipeline;
use frontdesk_app::queue::Job;
use lambda_http::{Body, Request};

use crate::stack::TestStack;
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs the chain until every queue is empty: receive from each stage's queue, run the
/// stage, delete on success. Returns how many jobs each stage ran. With `allow_failures`, a
/// failing job is left on its queue and made visible again at once (as if its visibility
/// timeout had passed), so SQS's redrive policy moves it to the dead-letter queue after
/// `maxReceiveCount` receives; without, a failure panics.
pub async fn drain(
    p: &Pipeline,
    stack: &TestStack,
    allow_failures: bool,
) -> BTreeMap<&'static str, usize> {
    let sqs = stack.sqs();
    let stages = [
        (Stage::Process, "PostcallQueue"),
        (Stage::CrmSync, "CrmSyncQueue"),
        (Stage::SmsSend, "SmsSendQueue"),
        (Stage::Analytics, "AnalyticsQueue"),
    ];
    let mut ran = BTreeMap::new();
    loop {
        let mut any = false;
        for (stage, queue) in stages {
            let url = stack.queue_url(queue);
            let out = sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .visibility_timeout(30)
                .send()
                .await
                .unwrap();
            for m in out.messages() {
                any = true;
                let job: Job = serde_json::from_str(m.body().unwrap()).unwrap();
                if let Err(e) = run(p, stage, &job).await {
                    assert!(allow_failures, "{stage:?}: {e}");
                    sqs.change_message_visibility()
                        .queue_url(&url)
                        .receipt_handle(m.receipt_handle().unwrap())
                        .visibility_timeout(0)
                        .send()
                        .await
                        .unwrap();
                    continue;
                }
                *ran.entry(stage.name()).or_default() += 1;
                sqs.delete_message()
                    .queue_url(&url)
                    .receipt_handle(m.receipt_handle().unwrap())
                    .send()
                    .await
                    .unwrap();
            }
        }
        if !any {
            return ran;
        }
    }
}

/// A form body as Twilio encodes it.
pub fn form_body(params: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".to_owned(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    params
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A Twilio webhook request signed with `token` for the public URL `base` + `path` (with
/// its query).
pub fn twilio_request(base: &str, path: &str, params: &[(&str, &str)], token: &str) -> Request {
    let owned: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let url = format!("{base}{path}");
    let sig = frontdesk_verify::twilio::signature(token, &url, &owned);
    http::Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", sig)
        .body(Body::Text(form_body(params)))
        .unwrap()
}

/// Twilio's Messages API on `server`: every send answers 201 with a fresh MessageSid, echoing
/// the recipient and body.
pub async fn mount_twilio_messages(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/2010-04-01/Accounts/AC[a-z0-9]+/Messages\.json$",
        ))
        .respond_with(|req: &wiremock::Request| {
            let form: BTreeMap<String, String> = frontdesk_verify::twilio::parse_form(&req.body)
                .unwrap()
                .into_iter()
                .collect();
            let sid = format!("SM{}", &uuid::Uuid::new_v4().simple().to_string()[..32]);
            ResponseTemplate::new(201).set_body_json(serde_json::json!({"sid": sid,
                "status": "queued", "to": form["To"], "body": form["Body"], "num_segments": "1"}))
        })
        .mount(server)
        .await;
}
