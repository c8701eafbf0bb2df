//! TwiML for the calls the voice agent doesn't take: transfer to staff, voicemail, and
//! "ring staff first" after hours.
//!
//! A [`Response`] is a list of [`Verb`]s. [`Response::to_xml`] writes it with a real XML
//! writer (quick-xml), never by pasting strings, so every text and attribute is escaped:
//! a persona message containing `<`, `&` or `]]>` cannot break the document. [`parse`]
//! reads back exactly what [`Response::to_xml`] writes (and the same verbs written by hand),
//! and [`validate`] checks that any TwiML, such as the opaque document ElevenLabs'
//! register-call returns, is well-formed with a `<Response>` root before it goes to Twilio.
//!
//! # Call flows
//!
//! * [`fallback`] — the AI can't take the call: say `persona.escalation_message`, dial
//!   `telephony.escalation_number` for `ring_staff_seconds` with `action` =
//!   [`FallbackUrls::after_dial`]; that handler answers with [`after_dial`] (hang up when
//!   staff answered, else [`voicemail`] when `voicemail_fallback` is on, else an apology).
//!   Without an escalation number the caller goes straight to [`voicemail`].
//! * [`voicemail`] — "please leave a message after the tone", `<Record>` (at most
//!   [`VOICEMAIL_MAX_SECONDS`], beep, transcription and recording status callbacks), then
//!   thanks and hang up. Twilio continues with the `action` URL after a recording (answer it
//!   with [`voicemail_done`]); the verbs after `<Record>` only run when nothing was recorded.
//! * [`ring_staff_first`] — after-hours policy `ring_staff_first`: dial the escalation
//!   number with `action` = [`RingStaffUrls::after_dial`], whose handler answers with
//!   [`after_ring_staff`] (hang up when answered, else redirect to the agent).
//!
//! URLs are given by the caller (absolute, or relative to the current webhook URL, which
//! Twilio resolves); nothing here builds routes.
//!
//! # Language
//!
//! `<Say>` gets a Twilio language code from the business's first language ([`say_language`]);
//! the texts are in that language (English, Spanish, French, German; others speak English).
//! Twilio's `<Record>` transcription only understands American English, so
//! `transcribeCallback` is set only for English-speaking businesses; the recording status
//! callback is always set.
//!
//! # XML details
//!
//! `to_xml` writes `<?xml version="1.0" encoding="UTF-8"?><Response>…</Response>` without
//! indentation; attributes are lowerCamelCase, booleans `true`/`false`. Characters XML 1.0
//! cannot carry (control characters other than tab, line feed and carriage return, U+FFFE,
//! U+FFFF) are dropped; tab, line feed and carriage return inside attributes, and carriage
//! return in text, are written as character references so they survive the parser's
//! normalisation. [`parse`] rejects DOCTYPEs (no entity expansion), unknown entities,
//! unknown verbs or attributes and documents over [`MAX_DOCUMENT_BYTES`] (Twilio's limit);
//! attributes left out get Twilio's defaults.

use std::borrow::Cow;

use quick_xml::events::attributes::Attribute;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::name::QName;
use quick_xml::{Reader, Writer, XmlVersion};

use crate::config::BusinessConfig;
use crate::speak::Language;

/// One TwiML verb.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verb {
    /// `<Say voice=… language=…>text</Say>`.
    Say {
        text: String,
        /// Twilio language code (`en-US`); `None` = the account default.
        language: Option<String>,
        /// `man`, `woman`, `Polly.Joanna-Generative`, …; `None` = the account default.
        voice: Option<String>,
    },
    /// `<Pause length=…/>`.
    Pause { seconds: u32 },
    /// `<Dial timeout=… callerId=… action=…><Number>number</Number></Dial>`.
    Dial {
        /// E.164 number to ring.
        number: String,
        /// Seconds to ring before giving up (Twilio default 30).
        timeout_secs: u32,
        /// Caller ID shown to the callee; `None` = the caller's own number.
        caller_id: Option<String>,
        /// Where Twilio posts `DialCallStatus` when the dial ends; with it, verbs after
        /// `<Dial>` never run.
        action: Option<String>,
    },
    /// `<Record maxLength=… playBeep=… timeout=… action=… transcribe="true"
    /// transcribeCallback=… recordingStatusCallback=…/>`.
    Record {
        max_length_secs: u32,
        play_beep: bool,
        /// Where Twilio continues after a recording (it posts `RecordingUrl`, …).
        action: Option<String>,
        /// Set: `transcribe="true"` and this callback (English only, 2 to 120 s).
        transcribe_callback: Option<String>,
        /// Posted when the recording file is ready (`RecordingStatus`, `RecordingUrl`).
        recording_status_callback: Option<String>,
        /// Seconds of silence that end the recording (Twilio default 5).
        timeout_secs: u32,
    },
    /// `<Redirect>url</Redirect>`: continue with the TwiML at `url` (POST).
    Redirect { url: String },
    /// `<Hangup/>`.
    Hangup,
}

/// A TwiML document: `<Response>` and its verbs, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response(pub Vec<Verb>);

/// Where Twilio goes next in the [`fallback`] flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FallbackUrls {
    /// `<Dial action>`: the handler that answers with [`after_dial`].
    pub after_dial: String,
    /// Used directly when there is no escalation number.
    pub voicemail: VoicemailUrls,
}

/// The URLs of a voicemail ([`voicemail`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VoicemailUrls {
    /// `<Record action>`: the handler that answers with [`voicemail_done`].
    pub recording_done: String,
    /// `recordingStatusCallback`: the recording is ready (or failed).
    pub recording_status: String,
    /// `transcribeCallback`: the transcription is ready (English businesses only).
    pub transcription: String,
}

/// The URLs of [`ring_staff_first`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingStaffUrls {
    /// `<Dial action>`: the handler that answers with [`after_ring_staff`].
    pub after_dial: String,
    /// The handler that hands the call to the voice agent (register-call).
    pub agent: String,
}

/// The longest voicemail, in seconds (Twilio transcribes recordings shorter than 120 s).
pub const VOICEMAIL_MAX_SECONDS: u32 = 120;

/// Seconds of silence that end a voicemail.
pub const VOICEMAIL_SILENCE_SECONDS: u32 = 5;

/// The largest TwiML document Twilio accepts, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// Why a document can't be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TwimlError {
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    #[error("the document is {0} bytes; Twilio accepts at most {MAX_DOCUMENT_BYTES}")]
    TooLarge(usize),
    #[error("DOCTYPE declarations are not accepted in TwiML")]
    DocType,
    #[error("the root element is <{0}>, not <Response>")]
    NotResponse(String),
    #[error("<{0}> is not a verb this module reads")]
    UnsupportedVerb(String),
    #[error("<{verb}> has an unsupported attribute `{attribute}`")]
    UnsupportedAttribute { verb: String, attribute: String },
    #[error("<{verb}> attribute `{attribute}` has an invalid value {value:?}")]
    InvalidValue {
        verb: String,
        attribute: String,
        value: String,
    },
    #[error("<{verb}>: {detail}")]
    InvalidContent { verb: String, detail: String },
}

impl Response {
    /// The document as Twilio expects it: `<?xml version="1.0" encoding="UTF-8"?>` then
    /// `<Response>…</Response>`, every text and attribute escaped by the writer (see the
    /// [module documentation](self#xml-details)).
    pub fn to_xml(&self) -> String {
        let mut writer = Writer::new(Vec::new());
        let mut emit = |event: Event<'_>| {
            writer
                .write_event(event)
                .expect("writing to a Vec cannot fail");
        };
        emit(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        emit(Event::Start(BytesStart::new("Response")));
        for verb in &self.0 {
            write_verb(verb, &mut emit);
        }
        emit(Event::End(BytesEnd::new("Response")));
        String::from_utf8(writer.into_inner()).expect("the writer writes UTF-8")
    }
}

/// The Twilio `<Say language>` code for the business's first language: the tag's region
/// when Twilio has voices for it (en-US, en-GB, en-AU, en-CA, en-IN; es-ES, es-MX, es-US;
/// fr-FR, fr-CA; de-DE), else a default: en-US; es-ES for businesses in a European time
/// zone and es-MX elsewhere; fr-CA in an American time zone and fr-FR elsewhere; de-DE.
/// Other languages speak English (en-US), like [`crate::speak`].
pub fn say_language(config: &BusinessConfig) -> String {
    let tag = config
        .persona
        .languages
        .first()
        .map_or("en-US", |tag| tag.trim());
    let region = tag
        .split(['-', '_'])
        .skip(1)
        .find(|subtag| {
            (subtag.len() == 2 && subtag.bytes().all(|b| b.is_ascii_alphabetic()))
                || (subtag.len() == 3 && subtag.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_ascii_uppercase);
    let zone = config.profile.time_zone.name();
    let code = match Language::from_tag(tag) {
        Language::English => match region.as_deref() {
            Some(r @ ("US" | "GB" | "AU" | "CA" | "IN")) => return format!("en-{r}"),
            _ => "en-US",
        },
        Language::Spanish => match region.as_deref() {
            Some("ES") => "es-ES",
            Some("US") => "es-US",
            Some(_) => "es-MX",
            None if zone.starts_with("Europe/") || zone == "Atlantic/Canary" => "es-ES",
            None => "es-MX",
        },
        Language::French => match region.as_deref() {
            Some("CA") => "fr-CA",
            Some(_) => "fr-FR",
            None if zone.starts_with("America/") => "fr-CA",
            None => "fr-FR",
        },
        Language::German => "de-DE",
    };
    code.to_owned()
}

/// The call when the AI can't take it: say `persona.escalation_message` (or a default in
/// the business language) and dial the escalation number for `ring_staff_seconds`
/// (clamped to Twilio's 5–600), `action` = `urls.after_dial` (answer it with
/// [`after_dial`]). Without an escalation number: straight to [`voicemail`].
pub fn fallback(config: &BusinessConfig, urls: &FallbackUrls) -> Response {
    let Some(number) = escalation_number(config) else {
        return voicemail(config, &urls.voicemail);
    };
    transfer(config, &number, &urls.after_dial)
}

/// A transfer of a live call to `number` (the `transfer_call` tool, through Twilio's Calls
/// API): say `persona.escalation_message` (or a default in the business language) and dial
/// it for `ring_staff_seconds` with `action` = `after_dial` (answer it with [`after_dial`]:
/// voicemail when nobody answers).
pub fn transfer(config: &BusinessConfig, number: &str, after_dial: &str) -> Response {
    let lang = Language::for_config(config);
    let message = match config.persona.escalation_message.trim() {
        "" => text(lang, Text::Connecting).to_owned(),
        message => message.to_owned(),
    };
    Response(vec![
        say(message, config),
        Verb::Dial {
            number: number.trim().to_owned(),
            timeout_secs: ring_timeout(config),
            caller_id: None,
            action: Some(after_dial.to_owned()),
        },
    ])
}

/// The answer to the `<Dial action>` of [`fallback`], from Twilio's `DialCallStatus`: hang
/// up when staff answered ([`dial_answered`]); otherwise [`voicemail`] when
/// `telephony.voicemail_fallback` is on, else an apology and hang up.
pub fn after_dial(
    config: &BusinessConfig,
    dial_call_status: &str,
    urls: &VoicemailUrls,
) -> Response {
    if dial_answered(dial_call_status) {
        return Response(vec![Verb::Hangup]);
    }
    if config.telephony.voicemail_fallback {
        return voicemail(config, urls);
    }
    let lang = Language::for_config(config);
    Response(vec![
        say(text(lang, Text::NobodyAvailable).to_owned(), config),
        Verb::Hangup,
    ])
}

/// Voicemail: "please leave a message after the tone" (business language), `<Record>`
/// ([`VOICEMAIL_MAX_SECONDS`], beep, [`VOICEMAIL_SILENCE_SECONDS`] of silence ends it,
/// `action` = `urls.recording_done`, recording status callback, transcription callback for
/// English), then thanks and hang up (reached only when nothing was recorded; Twilio
/// continues with the `action` URL otherwise).
pub fn voicemail(config: &BusinessConfig, urls: &VoicemailUrls) -> Response {
    let lang = Language::for_config(config);
    Response(vec![
        say(text(lang, Text::LeaveMessage).to_owned(), config),
        Verb::Record {
            max_length_secs: VOICEMAIL_MAX_SECONDS,
            play_beep: true,
            action: Some(urls.recording_done.clone()),
            transcribe_callback: (lang == Language::English).then(|| urls.transcription.clone()),
            recording_status_callback: Some(urls.recording_status.clone()),
            timeout_secs: VOICEMAIL_SILENCE_SECONDS,
        },
        say(text(lang, Text::Thanks).to_owned(), config),
        Verb::Hangup,
    ])
}

/// The answer to the `<Record action>` of [`voicemail`]: thanks and hang up.
pub fn voicemail_done(config: &BusinessConfig) -> Response {
    let lang = Language::for_config(config);
    Response(vec![
        say(text(lang, Text::Thanks).to_owned(), config),
        Verb::Hangup,
    ])
}

/// After-hours policy "ring staff first, then AI": dial the escalation number for
/// `ring_staff_seconds` with `action` = `urls.after_dial` (answer it with
/// [`after_ring_staff`]). Without an escalation number: redirect to the agent at once.
pub fn ring_staff_first(config: &BusinessConfig, urls: &RingStaffUrls) -> Response {
    match escalation_number(config) {
        Some(number) => Response(vec![Verb::Dial {
            number,
            timeout_secs: ring_timeout(config),
            caller_id: None,
            action: Some(urls.after_dial.clone()),
        }]),
        None => Response(vec![Verb::Redirect {
            url: urls.agent.clone(),
        }]),
    }
}

/// The answer to the `<Dial action>` of [`ring_staff_first`]: hang up when staff answered,
/// else continue with the agent (`<Redirect>` to `urls.agent`).
pub fn after_ring_staff(dial_call_status: &str, urls: &RingStaffUrls) -> Response {
    if dial_answered(dial_call_status) {
        Response(vec![Verb::Hangup])
    } else {
        Response(vec![Verb::Redirect {
            url: urls.agent.clone(),
        }])
    }
}

/// Whether a `DialCallStatus` means the dialled party answered and the call took place
/// (`completed`, or `answered` for conferences); `busy`, `no-answer`, `failed`,
/// `canceled` and anything else mean it did not.
pub fn dial_answered(dial_call_status: &str) -> bool {
    matches!(
        dial_call_status.trim().to_ascii_lowercase().as_str(),
        "completed" | "answered"
    )
}

/// Reads a document written by [`Response::to_xml`] (or the same verbs written by hand):
/// the verbs of the `<Response>` root, attributes left out taking Twilio's defaults
/// (`<Pause length>` 1, `<Dial timeout>` 30, `<Record>` `maxLength` 3600 or 120 when
/// transcribing, `playBeep` true, `timeout` 5). Any other verb, noun or attribute is an
/// error; comments and whitespace between verbs are ignored.
pub fn parse(xml: &str) -> Result<Response, TwimlError> {
    let root = read_document(xml)?;
    Attributes::new(&root).finish()?;
    let mut verbs = Vec::new();
    for node in root.children {
        match node {
            Node::Text(text) if is_xml_space(&text) => {}
            Node::Text(_) => {
                return Err(content("Response", "text outside a verb"));
            }
            Node::Element(element) => verbs.push(read_verb(element)?),
        }
    }
    Ok(Response(verbs))
}

/// Checks that `xml` can be sent to Twilio as TwiML: well-formed XML (no DOCTYPE, only the
/// predefined entities), a `<Response>` root, at most [`MAX_DOCUMENT_BYTES`]. The verbs are
/// not checked (for documents produced elsewhere, such as register-call's).
pub fn validate(xml: &str) -> Result<(), TwimlError> {
    read_document(xml).map(|_| ())
}

// --- Texts ---

#[derive(Clone, Copy)]
enum Text {
    Connecting,
    LeaveMessage,
    Thanks,
    NobodyAvailable,
}

fn text(lang: Language, which: Text) -> &'static str {
    use Language::{English as En, French as Fr, German as De, Spanish as Es};
    match (which, lang) {
        (Text::Connecting, En) => "Let me connect you with someone from our team.",
        (Text::Connecting, Es) => "Le comunico con alguien de nuestro equipo.",
        (Text::Connecting, Fr) => "Je vous mets en relation avec un membre de notre équipe.",
        (Text::Connecting, De) => "Ich verbinde Sie mit jemandem aus unserem Team.",
        (Text::LeaveMessage, En) => "Please leave a message after the tone.",
        (Text::LeaveMessage, Es) => "Por favor, deje su mensaje después del tono.",
        (Text::LeaveMessage, Fr) => "Veuillez laisser un message après le bip.",
        (Text::LeaveMessage, De) => "Bitte hinterlassen Sie nach dem Signalton eine Nachricht.",
        (Text::Thanks, En) => "Thank you for your message. Goodbye.",
        (Text::Thanks, Es) => "Gracias por su mensaje. Adiós.",
        (Text::Thanks, Fr) => "Merci pour votre message. Au revoir.",
        (Text::Thanks, De) => "Vielen Dank für Ihre Nachricht. Auf Wiederhören.",
        (Text::NobodyAvailable, En) => {
            "Sorry, no one is available to take your call right now. Please call again later. \
             Goodbye."
        }
        (Text::NobodyAvailable, Es) => {
            "Lo sentimos, ahora mismo no hay nadie disponible para atender su llamada. Por \
             favor, vuelva a llamar más tarde. Adiós."
        }
        (Text::NobodyAvailable, Fr) => {
            "Désolé, personne n'est disponible pour prendre votre appel pour le moment. Merci \
             de rappeler plus tard. Au revoir."
        }
        (Text::NobodyAvailable, De) => {
            "Leider ist gerade niemand erreichbar. Bitte rufen Sie später noch einmal an. Auf \
             Wiederhören."
        }
    }
}

fn say(text: String, config: &BusinessConfig) -> Verb {
    Verb::Say {
        text,
        language: Some(say_language(config)),
        voice: None,
    }
}

fn escalation_number(config: &BusinessConfig) -> Option<String> {
    config
        .telephony
        .escalation_number
        .as_deref()
        .map(str::trim)
        .filter(|number| !number.is_empty())
        .map(str::to_owned)
}

/// `ring_staff_seconds` within what Twilio accepts for `<Dial timeout>`.
fn ring_timeout(config: &BusinessConfig) -> u32 {
    config.telephony.ring_staff_seconds.clamp(5, 600)
}

// --- Writing ---

/// Whether XML 1.0 can carry `c` at all (the `Char` production).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}')
        || c >= '\u{10000}'
}

/// Escaped element text: markup characters as entities, carriage returns as character
/// references (a parser would turn a raw one into a line feed), non-XML characters dropped.
fn escape_text(value: &str) -> String {
    let clean: String = value.chars().filter(|&c| is_xml_char(c)).collect();
    quick_xml::escape::escape(clean.as_str()).replace('\r', "&#13;")
}

/// Escaped attribute value: as [`escape_text`], plus tab and line feed as character
/// references (a parser normalises raw ones to spaces).
fn escape_attribute(value: &str) -> String {
    escape_text(value)
        .replace('\t', "&#9;")
        .replace('\n', "&#10;")
}

fn start<'a>(name: &'a str, attributes: &[(&'a str, Option<String>)]) -> BytesStart<'a> {
    let mut start = BytesStart::new(name);
    for (key, value) in attributes {
        if let Some(value) = value {
            start.push_attribute(Attribute {
                key: QName(key.as_bytes()),
                value: Cow::Owned(escape_attribute(value).into_bytes()),
            });
        }
    }
    start
}

/// `<name attributes>text</name>`.
fn text_element(
    name: &str,
    attributes: &[(&str, Option<String>)],
    text: &str,
    emit: &mut impl FnMut(Event<'_>),
) {
    emit(Event::Start(start(name, attributes)));
    emit(Event::Text(BytesText::from_escaped(escape_text(text))));
    emit(Event::End(BytesEnd::new(name)));
}

fn write_verb(verb: &Verb, emit: &mut impl FnMut(Event<'_>)) {
    match verb {
        Verb::Say {
            text,
            language,
            voice,
        } => text_element(
            "Say",
            &[("voice", voice.clone()), ("language", language.clone())],
            text,
            emit,
        ),
        Verb::Pause { seconds } => {
            emit(Event::Empty(start(
                "Pause",
                &[("length", Some(seconds.to_string()))],
            )));
        }
        Verb::Dial {
            number,
            timeout_secs,
            caller_id,
            action,
        } => {
            emit(Event::Start(start(
                "Dial",
                &[
                    ("timeout", Some(timeout_secs.to_string())),
                    ("callerId", caller_id.clone()),
                    ("action", action.clone()),
                ],
            )));
            text_element("Number", &[], number, emit);
            emit(Event::End(BytesEnd::new("Dial")));
        }
        Verb::Record {
            max_length_secs,
            play_beep,
            action,
            transcribe_callback,
            recording_status_callback,
            timeout_secs,
        } => {
            emit(Event::Empty(start(
                "Record",
                &[
                    ("maxLength", Some(max_length_secs.to_string())),
                    ("playBeep", Some(play_beep.to_string())),
                    ("timeout", Some(timeout_secs.to_string())),
                    ("action", action.clone()),
                    (
                        "transcribe",
                        transcribe_callback.as_ref().map(|_| "true".to_owned()),
                    ),
                    ("transcribeCallback", transcribe_callback.clone()),
                    ("recordingStatusCallback", recording_status_callback.clone()),
                ],
            )));
        }
        Verb::Redirect { url } => text_element("Redirect", &[], url, emit),
        Verb::Hangup => emit(Event::Empty(BytesStart::new("Hangup"))),
    }
}

// --- Reading ---

/// A parsed element: name, attributes (unescaped, normalised) and children.
struct Element {
    name: String,
    attributes: Vec<(String, String)>,
    children: Vec<Node>,
}

enum Node {
    Element(Element),
    /// Character data, adjacent pieces (text, references, CDATA) joined.
    Text(String),
}

fn malformed(error: impl std::fmt::Display) -> TwimlError {
    TwimlError::Malformed(error.to_string())
}

fn content(verb: &str, detail: &str) -> TwimlError {
    TwimlError::InvalidContent {
        verb: verb.to_owned(),
        detail: detail.to_owned(),
    }
}

/// White space as XML defines it (space, tab, line feed, carriage return) only.
fn is_xml_space(text: &str) -> bool {
    text.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
}

/// The document's root element with a `<Response>` name check.
fn read_document(xml: &str) -> Result<Element, TwimlError> {
    let root = read_tree(xml)?;
    if root.name != "Response" {
        return Err(TwimlError::NotResponse(root.name));
    }
    Ok(root)
}

/// Reads a whole document into a tree; every well-formedness problem is an error.
fn read_tree(xml: &str) -> Result<Element, TwimlError> {
    if xml.len() > MAX_DOCUMENT_BYTES {
        return Err(TwimlError::TooLarge(xml.len()));
    }
    let mut reader = Reader::from_str(xml);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut first = true;

    fn attach(
        element: Element,
        stack: &mut [Element],
        root: &mut Option<Element>,
    ) -> Result<(), TwimlError> {
        match stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(element)),
            None if root.is_none() => *root = Some(element),
            None => return Err(malformed("more than one root element")),
        }
        Ok(())
    }

    fn push_text(text: &str, stack: &mut [Element]) -> Result<(), TwimlError> {
        match stack.last_mut() {
            Some(parent) => match parent.children.last_mut() {
                Some(Node::Text(previous)) => previous.push_str(text),
                _ => parent.children.push(Node::Text(text.to_owned())),
            },
            None if is_xml_space(text) => {}
            None => return Err(malformed("text outside the root element")),
        }
        Ok(())
    }

    loop {
        let event = reader.read_event().map_err(malformed)?;
        let was_first = std::mem::replace(&mut first, false);
        match event {
            Event::Decl(_) if was_first => {}
            Event::Decl(_) => {
                return Err(malformed("the XML declaration must come first"));
            }
            Event::DocType(_) => return Err(TwimlError::DocType),
            Event::Start(start) => {
                if root.is_some() && stack.is_empty() {
                    return Err(malformed("more than one root element"));
                }
                stack.push(read_start(&start, &reader)?);
            }
            Event::Empty(start) => {
                let element = read_start(&start, &reader)?;
                attach(element, &mut stack, &mut root)?;
            }
            Event::End(_) => {
                let element = stack
                    .pop()
                    .ok_or_else(|| malformed("a closing tag without an opening tag"))?;
                attach(element, &mut stack, &mut root)?;
            }
            Event::Text(text) => {
                let text = text.xml10_content().map_err(malformed)?;
                push_text(&text, &mut stack)?;
            }
            Event::CData(data) => {
                let text = data.xml10_content().map_err(malformed)?;
                push_text(&text, &mut stack)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = match reference.resolve_char_ref().map_err(malformed)? {
                    Some(c) if is_xml_char(c) => c.to_string(),
                    Some(c) => {
                        return Err(malformed(format!(
                            "character reference to U+{:04X}, not allowed in XML",
                            u32::from(c)
                        )));
                    }
                    None => {
                        let name = reference.decode().map_err(malformed)?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| malformed(format!("unknown entity &{name};")))?
                            .to_owned()
                    }
                };
                push_text(&resolved, &mut stack)?;
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(malformed(format!("<{}> is never closed", open.name)));
    }
    root.ok_or_else(|| malformed("no root element"))
}

fn read_start(start: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<Element, TwimlError> {
    let name = std::str::from_utf8(start.name().as_ref())
        .map_err(malformed)?
        .to_owned();
    let mut attributes = Vec::new();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(malformed)?;
        let key = std::str::from_utf8(attribute.key.as_ref())
            .map_err(malformed)?
            .to_owned();
        let value = attribute
            .decoded_and_normalized_value(XmlVersion::Explicit1_0, reader.decoder())
            .map_err(malformed)?
            .into_owned();
        attributes.push((key, value));
    }
    Ok(Element {
        name,
        attributes,
        children: Vec::new(),
    })
}

/// The attributes of one element, taken one by one; [`Attributes::finish`] rejects the
/// rest.
struct Attributes {
    verb: String,
    left: Vec<(String, String)>,
}

impl Attributes {
    fn new(element: &Element) -> Self {
        Attributes {
            verb: element.name.clone(),
            left: element.attributes.clone(),
        }
    }

    fn take(&mut self, name: &str) -> Option<String> {
        let index = self.left.iter().position(|(key, _)| key == name)?;
        Some(self.left.remove(index).1)
    }

    fn invalid(&self, attribute: &str, value: String) -> TwimlError {
        TwimlError::InvalidValue {
            verb: self.verb.clone(),
            attribute: attribute.to_owned(),
            value,
        }
    }

    fn number(&mut self, name: &str, default: u32) -> Result<u32, TwimlError> {
        match self.take(name) {
            None => Ok(default),
            Some(value) => value.parse().map_err(|_| self.invalid(name, value)),
        }
    }

    fn boolean(&mut self, name: &str, default: bool) -> Result<bool, TwimlError> {
        match self.take(name).as_deref() {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(self.invalid(name, other.to_owned())),
        }
    }

    fn finish(self) -> Result<(), TwimlError> {
        match self.left.into_iter().next() {
            None => Ok(()),
            Some((attribute, _)) => Err(TwimlError::UnsupportedAttribute {
                verb: self.verb,
                attribute,
            }),
        }
    }
}

/// The text of an element that may hold only text.
fn text_content(element: &Element) -> Result<String, TwimlError> {
    let mut text = String::new();
    for node in &element.children {
        match node {
            Node::Text(piece) => text.push_str(piece),
            Node::Element(child) => {
                return Err(content(
                    &element.name,
                    &format!("holds text only, not <{}>", child.name),
                ));
            }
        }
    }
    Ok(text)
}

/// Nothing but white space inside.
fn no_content(element: &Element) -> Result<(), TwimlError> {
    match text_content(element) {
        Ok(text) if is_xml_space(&text) => Ok(()),
        _ => Err(content(&element.name, "must be empty")),
    }
}

/// The number of a `<Dial>`: one `<Number>` noun, or the number as bare text.
fn dial_number(element: &Element) -> Result<String, TwimlError> {
    let mut number = None;
    let mut bare = String::new();
    for node in &element.children {
        match node {
            Node::Text(text) => bare.push_str(text),
            Node::Element(child) if child.name == "Number" => {
                Attributes::new(child).finish()?;
                if number.is_some() {
                    return Err(content("Dial", "more than one <Number>"));
                }
                number = Some(text_content(child)?);
            }
            Node::Element(child) => {
                return Err(content(
                    "Dial",
                    &format!("<{}> is not a noun this module reads", child.name),
                ));
            }
        }
    }
    let bare = bare.trim_matches([' ', '\t', '\n', '\r']);
    match (number, bare.is_empty()) {
        (Some(number), true) => Ok(number),
        (Some(_), false) => Err(content("Dial", "both a <Number> and text")),
        (None, false) => Ok(bare.to_owned()),
        (None, true) => Err(content("Dial", "no number to dial")),
    }
}

fn read_verb(element: Element) -> Result<Verb, TwimlError> {
    let mut attributes = Attributes::new(&element);
    let verb = match element.name.as_str() {
        "Say" => Verb::Say {
            voice: attributes.take("voice"),
            language: attributes.take("language"),
            text: text_content(&element)?,
        },
        "Pause" => {
            no_content(&element)?;
            Verb::Pause {
                seconds: attributes.number("length", 1)?,
            }
        }
        "Dial" => Verb::Dial {
            timeout_secs: attributes.number("timeout", 30)?,
            caller_id: attributes.take("callerId"),
            action: attributes.take("action"),
            number: dial_number(&element)?,
        },
        "Record" => {
            no_content(&element)?;
            let transcribe = attributes.boolean("transcribe", false)?;
            let transcribe_callback = attributes.take("transcribeCallback");
            if transcribe != transcribe_callback.is_some() {
                return Err(content(
                    "Record",
                    "`transcribe=\"true\"` and `transcribeCallback` go together",
                ));
            }
            let default_length = if transcribe { 120 } else { 3600 };
            Verb::Record {
                max_length_secs: attributes.number("maxLength", default_length)?,
                play_beep: attributes.boolean("playBeep", true)?,
                timeout_secs: attributes.number("timeout", 5)?,
                action: attributes.take("action"),
                transcribe_callback,
                recording_status_callback: attributes.take("recordingStatusCallback"),
            }
        }
        "Redirect" => Verb::Redirect {
            url: text_content(&element)?,
        },
        "Hangup" => {
            no_content(&element)?;
            Verb::Hangup
        }
        other => return Err(TwimlError::UnsupportedVerb(other.to_owned())),
    };
    attributes.finish()?;
    Ok(verb)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::config::{AfterHoursPolicy, TelephonyMode};

    fn demo() -> BusinessConfig {
        let mut doc: serde_json::Value =
            serde_json::from_str(include_str!("../../../infra/demo/business.json")).unwrap();
        doc.as_object_mut().unwrap().remove("id");
        crate::parse_business_config(doc).unwrap()
    }

    fn voicemail_urls() -> VoicemailUrls {
        VoicemailUrls {
            recording_done: "/voice/demo-dental/voicemail/done".into(),
            recording_status: "https://api.example.com/voice/demo-dental/recording?a=1&b=2".into(),
            transcription: "https://api.example.com/voice/demo-dental/transcription".into(),
        }
    }

    fn fallback_urls() -> FallbackUrls {
        FallbackUrls {
            after_dial: "/voice/demo-dental/after-dial".into(),
            voicemail: voicemail_urls(),
        }
    }

    fn ring_urls() -> RingStaffUrls {
        RingStaffUrls {
            after_dial: "/voice/demo-dental/after-ring".into(),
            agent: "/voice/demo-dental/agent".into(),
        }
    }

    const HOSTILE: &str = "<b>Tom & \"Jerry\"</b> 'O'Brien' ]]> <![CDATA[x]]> &amp; &#38; \
                           é 日本語 🦷 \u{200B} \t tab\nnew line\r\nCRLF\rCR {{caller_name}}";

    fn every_verb(text: &str) -> Response {
        Response(vec![
            Verb::Say {
                text: text.to_owned(),
                language: Some(text.to_owned()),
                voice: Some(text.to_owned()),
            },
            Verb::Say {
                text: String::new(),
                language: None,
                voice: None,
            },
            Verb::Pause { seconds: 0 },
            Verb::Pause { seconds: u32::MAX },
            Verb::Dial {
                number: text.to_owned(),
                timeout_secs: 20,
                caller_id: Some(text.to_owned()),
                action: Some(text.to_owned()),
            },
            Verb::Dial {
                number: "+12125550199".into(),
                timeout_secs: 30,
                caller_id: None,
                action: None,
            },
            Verb::Record {
                max_length_secs: 120,
                play_beep: false,
                action: Some(text.to_owned()),
                transcribe_callback: Some(text.to_owned()),
                recording_status_callback: Some(text.to_owned()),
                timeout_secs: 0,
            },
            Verb::Record {
                max_length_secs: 3600,
                play_beep: true,
                action: None,
                transcribe_callback: None,
                recording_status_callback: None,
                timeout_secs: 5,
            },
            Verb::Redirect {
                url: text.to_owned(),
            },
            Verb::Hangup,
        ])
    }

    #[test]
    fn every_verb_round_trips_with_hostile_text() {
        let response = every_verb(HOSTILE);
        let xml = response.to_xml();
        assert_eq!(parse(&xml), Ok(response), "{xml}");
        assert!(!xml.contains("<b>"));
        assert!(!xml.contains("]]>"));
        assert!(!xml.contains("& "));
        assert!(!xml.contains("<![CDATA["));
        // Attribute-value normalisation would turn raw tabs and line feeds into spaces.
        assert!(xml.contains("&#9;") && xml.contains("&#10;") && xml.contains("&#13;"));
    }

    #[test]
    fn empty_response_round_trips() {
        let xml = Response::default().to_xml();
        assert_eq!(
            xml,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response></Response>"#
        );
        assert_eq!(parse(&xml), Ok(Response::default()));
        assert_eq!(parse("<Response/>"), Ok(Response::default()));
    }

    #[test]
    fn characters_xml_cannot_carry_are_dropped() {
        let response = Response(vec![Verb::Say {
            text: "a\u{0}b\u{1b}c\u{fffe}d\u{ffff}e\u{b}f".into(),
            language: Some("en\u{7}-US".into()),
            voice: None,
        }]);
        let xml = response.to_xml();
        assert_eq!(
            parse(&xml),
            Ok(Response(vec![Verb::Say {
                text: "abcdef".into(),
                language: Some("en-US".into()),
                voice: None,
            }]))
        );
    }

    #[test]
    fn exact_document_of_a_voicemail() {
        let xml = voicemail(&demo(), &voicemail_urls()).to_xml();
        assert_eq!(
            xml,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#,
                r#"<Say language="en-US">Please leave a message after the tone.</Say>"#,
                r#"<Record maxLength="120" playBeep="true" timeout="5" "#,
                r#"action="/voice/demo-dental/voicemail/done" transcribe="true" "#,
                r#"transcribeCallback="https://api.example.com/voice/demo-dental/transcription" "#,
                r#"recordingStatusCallback="https://api.example.com/voice/demo-dental/recording?a=1&amp;b=2"/>"#,
                r#"<Say language="en-US">Thank you for your message. Goodbye.</Say>"#,
                r#"<Hangup/>"#,
                r#"</Response>"#,
            )
        );
    }

    #[test]
    fn voicemail_attributes() {
        let response = voicemail(&demo(), &voicemail_urls());
        let parsed = parse(&response.to_xml()).unwrap();
        assert_eq!(parsed, response);
        let [
            Verb::Say { text, language, .. },
            record,
            Verb::Say { .. },
            Verb::Hangup,
        ] = parsed.0.as_slice()
        else {
            panic!("unexpected verbs: {parsed:?}");
        };
        assert_eq!(text, "Please leave a message after the tone.");
        assert_eq!(language.as_deref(), Some("en-US"));
        assert_eq!(
            record,
            &Verb::Record {
                max_length_secs: 120,
                play_beep: true,
                action: Some("/voice/demo-dental/voicemail/done".into()),
                transcribe_callback: Some(
                    "https://api.example.com/voice/demo-dental/transcription".into()
                ),
                recording_status_callback: Some(
                    "https://api.example.com/voice/demo-dental/recording?a=1&b=2".into()
                ),
                timeout_secs: 5,
            }
        );
    }

    #[test]
    fn spanish_voicemail_is_not_transcribed() {
        let mut config = demo();
        config.persona.languages = vec!["es-US".into()];
        let response = voicemail(&config, &voicemail_urls());
        let Verb::Say { text, language, .. } = &response.0[0] else {
            panic!("{response:?}");
        };
        assert_eq!(text, "Por favor, deje su mensaje después del tono.");
        assert_eq!(language.as_deref(), Some("es-US"));
        let Verb::Record {
            transcribe_callback,
            recording_status_callback,
            ..
        } = &response.0[1]
        else {
            panic!("{response:?}");
        };
        assert_eq!(transcribe_callback, &None);
        assert!(recording_status_callback.is_some());
        assert!(!response.to_xml().contains("transcribe"));
    }

    #[test]
    fn fallback_dials_the_escalation_number() {
        let config = demo();
        let response = fallback(&config, &fallback_urls());
        assert_eq!(
            response,
            Response(vec![
                Verb::Say {
                    text: "Let me connect you with someone from our team.".into(),
                    language: Some("en-US".into()),
                    voice: None,
                },
                Verb::Dial {
                    number: "+12125550199".into(),
                    timeout_secs: 20,
                    caller_id: None,
                    action: Some("/voice/demo-dental/after-dial".into()),
                },
            ])
        );
        assert_eq!(parse(&response.to_xml()), Ok(response.clone()));
        assert!(response.to_xml().contains(
            r#"<Dial timeout="20" action="/voice/demo-dental/after-dial"><Number>+12125550199</Number></Dial>"#
        ));
    }

    #[test]
    fn fallback_escapes_the_persona_message_and_defaults_when_blank() {
        let mut config = demo();
        config.persona.escalation_message = "One moment <please> & hold".into();
        let xml = fallback(&config, &fallback_urls()).to_xml();
        assert!(
            xml.contains("One moment &lt;please&gt; &amp; hold"),
            "{xml}"
        );
        config.persona.escalation_message = "  ".into();
        config.persona.languages = vec!["de-AT".into()];
        let response = fallback(&config, &fallback_urls());
        assert_eq!(
            response.0[0],
            Verb::Say {
                text: "Ich verbinde Sie mit jemandem aus unserem Team.".into(),
                language: Some("de-DE".into()),
                voice: None,
            }
        );
    }

    #[test]
    fn fallback_without_escalation_number_goes_to_voicemail() {
        let mut config = demo();
        config.telephony.escalation_number = None;
        assert_eq!(
            fallback(&config, &fallback_urls()),
            voicemail(&config, &voicemail_urls())
        );
        config.telephony.escalation_number = Some("  ".into());
        assert_eq!(
            fallback(&config, &fallback_urls()),
            voicemail(&config, &voicemail_urls())
        );
    }

    #[test]
    fn ring_timeout_is_clamped_to_what_twilio_accepts() {
        let mut config = demo();
        config.telephony.ring_staff_seconds = 0;
        let Verb::Dial { timeout_secs, .. } = &fallback(&config, &fallback_urls()).0[1] else {
            panic!();
        };
        assert_eq!(*timeout_secs, 5);
    }

    #[test]
    fn after_dial_by_status() {
        let mut config = demo();
        let urls = voicemail_urls();
        for status in ["completed", "answered", " Completed "] {
            assert_eq!(
                after_dial(&config, status, &urls),
                Response(vec![Verb::Hangup])
            );
        }
        for status in ["busy", "no-answer", "failed", "canceled", ""] {
            assert_eq!(
                after_dial(&config, status, &urls),
                voicemail(&config, &urls),
                "{status}"
            );
        }
        config.telephony.voicemail_fallback = false;
        let response = after_dial(&config, "no-answer", &urls);
        assert!(matches!(
            response.0.as_slice(),
            [Verb::Say { text, .. }, Verb::Hangup] if text.starts_with("Sorry, no one is available")
        ));
    }

    #[test]
    fn voicemail_done_thanks_and_hangs_up() {
        let mut config = demo();
        config.persona.languages = vec!["fr".into()];
        assert_eq!(
            voicemail_done(&config),
            Response(vec![
                Verb::Say {
                    text: "Merci pour votre message. Au revoir.".into(),
                    language: Some("fr-CA".into()), // America/New_York
                    voice: None,
                },
                Verb::Hangup,
            ])
        );
    }

    #[test]
    fn ring_staff_first_dials_then_continues_to_the_agent() {
        let mut config = demo();
        config.telephony.after_hours_policy = AfterHoursPolicy::RingStaffFirst;
        config.telephony.mode = TelephonyMode::RegisterCall;
        config.telephony.ring_staff_seconds = 25;
        let urls = ring_urls();
        let response = ring_staff_first(&config, &urls);
        assert_eq!(
            response,
            Response(vec![Verb::Dial {
                number: "+12125550199".into(),
                timeout_secs: 25,
                caller_id: None,
                action: Some("/voice/demo-dental/after-ring".into()),
            }])
        );
        assert_eq!(parse(&response.to_xml()), Ok(response));
        assert_eq!(
            after_ring_staff("completed", &urls),
            Response(vec![Verb::Hangup])
        );
        assert_eq!(
            after_ring_staff("no-answer", &urls),
            Response(vec![Verb::Redirect {
                url: "/voice/demo-dental/agent".into()
            }])
        );
        config.telephony.escalation_number = None;
        assert_eq!(
            ring_staff_first(&config, &urls),
            Response(vec![Verb::Redirect {
                url: "/voice/demo-dental/agent".into()
            }])
        );
    }

    #[test]
    fn say_language_codes() {
        let mut config = demo();
        let cases = [
            ("America/New_York", "en-US", "en-US"),
            ("America/New_York", "en", "en-US"),
            ("Europe/London", "en-GB", "en-GB"),
            ("Australia/Sydney", "en-AU", "en-AU"),
            ("America/New_York", "en-ZA", "en-US"),
            ("America/New_York", "es-US", "es-US"),
            ("America/Mexico_City", "es-MX", "es-MX"),
            ("America/New_York", "es-419", "es-MX"),
            ("America/Bogota", "es-CO", "es-MX"),
            ("Europe/Madrid", "es-ES", "es-ES"),
            ("Europe/Madrid", "es", "es-ES"),
            ("America/Chicago", "es", "es-MX"),
            ("Europe/Paris", "fr", "fr-FR"),
            ("America/Toronto", "fr", "fr-CA"),
            ("America/Toronto", "fr-CA", "fr-CA"),
            ("Europe/Brussels", "fr-BE", "fr-FR"),
            ("Europe/Vienna", "de-AT", "de-DE"),
            ("Europe/Berlin", "de", "de-DE"),
            ("Europe/Rome", "it-IT", "en-US"),
            ("America/New_York", "zh-Hant-TW", "en-US"),
            ("America/New_York", "es_mx", "es-MX"),
        ];
        for (zone, tag, code) in cases {
            config.profile.time_zone = zone.parse().unwrap();
            config.persona.languages = vec![tag.into()];
            assert_eq!(say_language(&config), code, "{tag} in {zone}");
        }
        config.persona.languages.clear();
        assert_eq!(say_language(&config), "en-US");
    }

    #[test]
    fn parse_applies_twilio_defaults_and_tolerates_layout() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
            <!-- fallback -->
            <Response>
              <Say>Hello &amp; welcome &#233;</Say>
              <Pause/>
              <Dial>
                +12125550199
              </Dial>
              <Record transcribe="true" transcribeCallback="/t"/>
              <Record/>
              <Say><![CDATA[a < b]]> &lt; c</Say>
              <Redirect>/next</Redirect>
              <Hangup></Hangup>
            </Response>
        "#;
        assert_eq!(
            parse(xml),
            Ok(Response(vec![
                Verb::Say {
                    text: "Hello & welcome é".into(),
                    language: None,
                    voice: None
                },
                Verb::Pause { seconds: 1 },
                Verb::Dial {
                    number: "+12125550199".into(),
                    timeout_secs: 30,
                    caller_id: None,
                    action: None
                },
                Verb::Record {
                    max_length_secs: 120,
                    play_beep: true,
                    action: None,
                    transcribe_callback: Some("/t".into()),
                    recording_status_callback: None,
                    timeout_secs: 5
                },
                Verb::Record {
                    max_length_secs: 3600,
                    play_beep: true,
                    action: None,
                    transcribe_callback: None,
                    recording_status_callback: None,
                    timeout_secs: 5
                },
                Verb::Say {
                    text: "a < b < c".into(),
                    language: None,
                    voice: None
                },
                Verb::Redirect {
                    url: "/next".into()
                },
                Verb::Hangup,
            ]))
        );
    }

    #[test]
    fn parse_rejects_what_it_does_not_understand() {
        let cases: &[(&str, TwimlError)] = &[
            (
                "<Reponse><Hangup/></Reponse>",
                TwimlError::NotResponse("Reponse".into()),
            ),
            (
                "<Response><Play>x.mp3</Play></Response>",
                TwimlError::UnsupportedVerb("Play".into()),
            ),
            (
                "<Response><Say loop=\"2\">hi</Say></Response>",
                TwimlError::UnsupportedAttribute {
                    verb: "Say".into(),
                    attribute: "loop".into(),
                },
            ),
            (
                "<Response lang=\"x\"></Response>",
                TwimlError::UnsupportedAttribute {
                    verb: "Response".into(),
                    attribute: "lang".into(),
                },
            ),
            (
                "<Response><Pause length=\"-1\"/></Response>",
                TwimlError::InvalidValue {
                    verb: "Pause".into(),
                    attribute: "length".into(),
                    value: "-1".into(),
                },
            ),
            (
                "<Response><Record playBeep=\"yes\"/></Response>",
                TwimlError::InvalidValue {
                    verb: "Record".into(),
                    attribute: "playBeep".into(),
                    value: "yes".into(),
                },
            ),
            (
                "<Response><Record transcribeCallback=\"/t\"/></Response>",
                content(
                    "Record",
                    "`transcribe=\"true\"` and `transcribeCallback` go together",
                ),
            ),
            (
                "<Response><Dial></Dial></Response>",
                content("Dial", "no number to dial"),
            ),
            (
                "<Response><Dial><Number>1</Number><Number>2</Number></Dial></Response>",
                content("Dial", "more than one <Number>"),
            ),
            (
                "<Response><Dial><Client>bob</Client></Dial></Response>",
                content("Dial", "<Client> is not a noun this module reads"),
            ),
            (
                "<Response><Say>hi <break/></Say></Response>",
                content("Say", "holds text only, not <break>"),
            ),
            (
                "<Response><Hangup>now</Hangup></Response>",
                content("Hangup", "must be empty"),
            ),
            (
                "<Response>hello<Hangup/></Response>",
                content("Response", "text outside a verb"),
            ),
            (
                "<!DOCTYPE r [<!ENTITY x \"y\">]><Response>&x;</Response>",
                TwimlError::DocType,
            ),
        ];
        for (xml, error) in cases {
            assert_eq!(parse(xml).as_ref(), Err(error), "{xml}");
        }
    }

    #[test]
    fn malformed_documents_are_errors() {
        for xml in [
            "",
            "   ",
            "<Response>",
            "<Response><Say>hi</Response>",
            "<Response></Response><Response></Response>",
            "<Response/>trailing",
            "<Response><Say>&nbsp;</Say></Response>",
            "<Response><Say>a & b</Say></Response>",
            "<Response><Say a=\"1\" a=\"2\">x</Say></Response>",
            "<Response><Say>&#0;</Say></Response>",
            "<Response><Say language=\"&bogus;\">x</Say></Response>",
            "</Response>",
            "<Response/><?xml version=\"1.0\"?>",
        ] {
            let result = parse(xml);
            assert!(
                matches!(result, Err(TwimlError::Malformed(_))),
                "{xml:?} gave {result:?}"
            );
            assert!(validate(xml).is_err(), "{xml:?}");
        }
    }

    #[test]
    fn too_large_documents_are_refused() {
        let response = Response(vec![Verb::Say {
            text: "a".repeat(MAX_DOCUMENT_BYTES),
            language: None,
            voice: None,
        }]);
        let xml = response.to_xml();
        assert_eq!(parse(&xml), Err(TwimlError::TooLarge(xml.len())));
        assert_eq!(validate(&xml), Err(TwimlError::TooLarge(xml.len())));
    }

    #[test]
    fn validate_accepts_register_call_twiml_that_parse_does_not_read() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<Response>
  <Connect>
    <Stream url="wss://api.elevenlabs.io/v1/convai/conversation?agent_id=agent_1&amp;x=1">
      <Parameter name="caller" value="+12125550123"/>
    </Stream>
  </Connect>
</Response>"#;
        assert_eq!(validate(xml), Ok(()));
        assert_eq!(
            parse(xml),
            Err(TwimlError::UnsupportedVerb("Connect".into()))
        );
        assert_eq!(
            validate("<html><body/></html>"),
            Err(TwimlError::NotResponse("html".into()))
        );
        assert!(validate("{\"detail\": \"error\"}").is_err());
    }

    #[test]
    fn dial_answered_statuses() {
        assert!(dial_answered("completed"));
        assert!(dial_answered("answered"));
        for status in ["busy", "no-answer", "failed", "canceled", "", "complete"] {
            assert!(!dial_answered(status), "{status}");
        }
    }

    // --- Property: whatever goes in comes back out ---

    /// `text` as it comes back: the characters XML 1.0 can't carry removed.
    fn carried(text: &str) -> String {
        text.chars().filter(|&c| is_xml_char(c)).collect()
    }

    fn carried_verb(verb: &Verb) -> Verb {
        let c = |s: &String| carried(s);
        let co = |s: &Option<String>| s.as_ref().map(|s| carried(s));
        match verb {
            Verb::Say {
                text,
                language,
                voice,
            } => Verb::Say {
                text: c(text),
                language: co(language),
                voice: co(voice),
            },
            Verb::Dial {
                number,
                timeout_secs,
                caller_id,
                action,
            } => Verb::Dial {
                number: c(number),
                timeout_secs: *timeout_secs,
                caller_id: co(caller_id),
                action: co(action),
            },
            Verb::Record {
                max_length_secs,
                play_beep,
                action,
                transcribe_callback,
                recording_status_callback,
                timeout_secs,
            } => Verb::Record {
                max_length_secs: *max_length_secs,
                play_beep: *play_beep,
                action: co(action),
                transcribe_callback: co(transcribe_callback),
                recording_status_callback: co(recording_status_callback),
                timeout_secs: *timeout_secs,
            },
            Verb::Redirect { url } => Verb::Redirect { url: c(url) },
            other => other.clone(),
        }
    }

    fn texts() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[<>&\"' \t\r\n\\]\\[a-z;#0-9]{0,30}",
            "\\PC{0,30}",
            Just("]]>".to_owned()),
            Just("&amp;&lt;&#13;".to_owned()),
        ]
    }

    fn verbs() -> impl Strategy<Value = Verb> {
        let opt = || prop::option::of(texts());
        prop_oneof![
            (texts(), opt(), opt()).prop_map(|(text, language, voice)| Verb::Say {
                text,
                language,
                voice
            }),
            any::<u32>().prop_map(|seconds| Verb::Pause { seconds }),
            (texts(), any::<u32>(), opt(), opt()).prop_map(
                |(number, timeout_secs, caller_id, action)| Verb::Dial {
                    number,
                    timeout_secs,
                    caller_id,
                    action
                }
            ),
            (
                any::<u32>(),
                any::<bool>(),
                opt(),
                opt(),
                opt(),
                any::<u32>()
            )
                .prop_map(
                    |(
                        max_length_secs,
                        play_beep,
                        action,
                        transcribe_callback,
                        status,
                        timeout_secs,
                    )| {
                        Verb::Record {
                            max_length_secs,
                            play_beep,
                            action,
                            transcribe_callback,
                            recording_status_callback: status,
                            timeout_secs,
                        }
                    }
                ),
            texts().prop_map(|url| Verb::Redirect { url }),
            Just(Verb::Hangup),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn to_xml_then_parse_is_the_identity(verbs in prop::collection::vec(verbs(), 0..8)) {
            let response = Response(verbs);
            let xml = response.to_xml();
            let expected = Response(response.0.iter().map(carried_verb).collect());
            prop_assert_eq!(parse(&xml), Ok(expected), "{}", xml);
            prop_assert_eq!(validate(&xml), Ok(()));
            prop_assert!(xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><Response>"#));
            prop_assert!(xml.ends_with("</Response>"));
        }

        #[test]
        fn parse_never_panics(xml in prop_oneof![
            "\\PC{0,200}",
            "(<|</|/>|>|&|;|#|=|\"| |!|\\?|--|\\[CDATA\\[|]]|Response|Say|Dial|Number|amp|x){0,40}",
        ]) {
            let _ = parse(&xml);
            let _ = validate(&xml);
        }
    }
}
