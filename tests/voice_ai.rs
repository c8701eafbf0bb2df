//! The register-call client against a scripted ElevenLabs: the TwiML comes back unchanged,
//! errors and timeouts fail within the budget, and the circuit breaker stops calling a
//! failing ElevenLabs (so callers hear the fallback at once).

use std::time::{Duration, Instant};

use frontdesk_app::elevenlabs::{
    CircuitBreaker, ElevenLabsClient, Guarded, RegisterCall, VoiceAi, VoiceAiError,
};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TWIML: &str = r#"<?xml version="1.0" encoding="UTF-8"?><Response><Connect><Stream url="wss://api.elevenlabs.io/v1/convai/conversation"/></Connect></Response>"#;

fn call() -> RegisterCall {
    RegisterCall {
        agent_id: "agent_1".into(),
        from_number: "+12125550142".into(),
        to_number: "+12125550100".into(),
        direction: "inbound".into(),
        dynamic_variables: [("business_id".to_owned(), "demo-dental".to_owned())].into(),
    }
}

#[tokio::test]
async fn the_twiml_comes_back_unchanged() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/convai/twilio/register-call"))
        .and(header("xi-api-key", "xi-key"))
        .respond_with(ResponseTemplate::new(200).set_body_string(TWIML))
        .expect(1)
        .mount(&server)
        .await;
    let client = ElevenLabsClient::new(server.uri(), Duration::from_secs(3));
    assert_eq!(
        client.register_call("xi-key", &call()).await.unwrap(),
        TWIML
    );
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["agent_id"], "agent_1");
    assert_eq!(
        sent["conversation_initiation_client_data"]["dynamic_variables"]["business_id"],
        "demo-dental"
    );
}

#[tokio::test]
async fn a_slow_elevenlabs_fails_within_the_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string(TWIML)
                .set_delay(Duration::from_secs(5)),
        )
        .mount(&server)
        .await;
    let client = ElevenLabsClient::new(server.uri(), Duration::from_millis(300));
    let started = Instant::now();
    let err = client.register_call("xi-key", &call()).await.unwrap_err();
    assert!(matches!(err, VoiceAiError::Timeout(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_breaker_opens_after_repeated_failures_and_skips_elevenlabs() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .expect(3)
        .mount(&server)
        .await;
    let guarded = Guarded {
        inner: ElevenLabsClient::new(server.uri(), Duration::from_secs(3)),
        breaker: CircuitBreaker::new(3, Duration::from_secs(30)),
    };
    for _ in 0..3 {
        let err = guarded.register_call("xi-key", &call()).await.unwrap_err();
        assert!(
            matches!(err, VoiceAiError::Failed { status: 500, .. }),
            "{err}"
        );
    }
    // Open: no request reaches ElevenLabs (the mock expects exactly 3), the answer is immediate.
    let started = Instant::now();
    let err = guarded.register_call("xi-key", &call()).await.unwrap_err();
    assert!(matches!(err, VoiceAiError::CircuitOpen(_)), "{err}");
    assert!(started.elapsed() < Duration::from_millis(50));
    // A missing API key is our configuration, not ElevenLabs failing: it does not trip it.
    let fresh = Guarded {
        inner: ElevenLabsClient::new(server.uri(), Duration::from_secs(3)),
        breaker: CircuitBreaker::new(1, Duration::from_secs(30)),
    };
    assert!(matches!(
        fresh.register_call("", &call()).await.unwrap_err(),
        VoiceAiError::Config(_)
    ));
    assert!(!fresh.breaker.is_open(Instant::now()));
}

#[tokio::test]
async fn an_answer_that_is_not_twiml_is_a_failure() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>maintenance</html>"))
        .mount(&server)
        .await;
    let client = ElevenLabsClient::new(server.uri(), Duration::from_secs(3));
    assert!(matches!(
        client.register_call("xi-key", &call()).await.unwrap_err(),
        VoiceAiError::Failed { .. }
    ));
}
