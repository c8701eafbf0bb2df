//! Text messages to callers: segment counting, rendering a message from the business's
//! template, quiet hours, and classifying the caller's replies.
//!
//! # Encoding and segments ([`segments`])
//!
//! Counted the way carriers and Twilio count them (without Twilio's optional Smart
//! Encoding, which would first replace look-alike characters such as curly quotes):
//!
//! * A text made only of characters of the GSM 03.38 default alphabet is sent as **GSM-7**.
//!   Each character is one septet, except the characters of the extension table — form feed
//!   and `^ { } \ [ ~ ] | €` — which take two (an escape plus the character). A single
//!   message holds 160 septets; a longer text is sent as concatenated parts of 153 septets
//!   each (the rest carries the concatenation header), and an escape pair is never split
//!   between two parts. `ç` (lowercase), `á`, `í`, `ó`, `ú`, the tab and the backtick are
//!   *not* in the alphabet; `Ç`, `é`, `è`, `ñ`, `ü`, `à`, `ß`, `€` are.
//! * Any other character makes the whole text **UCS-2**: each character is one UTF-16 code
//!   unit, or two for characters outside the Basic Multilingual Plane (most emoji). A single
//!   message holds 70 units, a concatenated part 67, and a surrogate pair is never split.
//!   (Multi-character graphemes, such as emoji joined with zero-width joiners, are counted
//!   per character and may be split between parts, as a plain splitter would.)
//! * The empty text counts as one GSM-7 segment of 0 units, as in Twilio's segment
//!   calculator. Twilio refuses empty bodies; [`render`] never produces one.
//!
//! # Rendering ([`render`])
//!
//! The business's template for the [`MessageKind`] is filled with the values the app passes.
//! Only the variables the kind allows ([`MessageKind::variables`]) are taken from the map;
//! values are trimmed, and a variable without a (non-blank) value renders as nothing, never
//! as an error: sending must not fail because one detail is unknown. The whitespace around
//! an emptied variable is tidied up: a run of blanks containing it becomes one space, or
//! nothing before `,` `.` `;` `:` `!` `?` `)` written right after the variable, at the start
//! or end of a line, or between two characters it separated without any blank; a line left
//! with nothing but emptied variables is removed. So `Hi {{customer_name}}, ...` becomes
//! `Hi, ...` and `Merci {{customer_name}} !` becomes `Merci !`. The operator's own spacing
//! elsewhere is kept; the result is trimmed.
//!
//! Then an opt-out footer is appended on its own line, in the business's primary language
//! ([`Language::for_config`]; see [`opt_out_footer`]), unless the operator's template already
//! tells how to opt out: it contains the word `STOP` written in capitals (as every keyword
//! instruction is: "Reply STOP to unsubscribe"). Only the template's own text counts, not
//! the variable values, so a caller's words in a `summary` can't remove the footer; and a
//! lowercase "stop" ("Stop by anytime!") doesn't either. The footers are GSM-7, so they never
//! switch a text to UCS-2 by themselves.
//!
//! A body that is empty before the footer is [`SmsError::Empty`]; one longer than
//! [`MAX_BODY_LENGTH`] (1,600, Twilio's limit, error 21617) with the footer is
//! [`SmsError::TooLong`]. Length is counted in UTF-16 code units, so a body we accept is
//! within the limit however Twilio counts characters.
//!
//! # Quiet hours ([`send_at`])
//!
//! `sms.quiet_hours` is a daily window of local wall-clock time in the business's zone,
//! `start` inclusive and `end` exclusive; an `end` at or before `start` wraps midnight
//! (`21:00`–`08:00` is quiet from 9 PM to 8 AM the next morning). A text due inside the
//! window is sent at the instant the window ends. Local times become instants with the
//! conventions of [`crate::slots`]: a start that happens twice (clocks going back) is its
//! earlier instant and an end its later one, so the repeated hour is quiet on both passes;
//! a time skipped when the clocks go forward is the first instant after the gap.
//!
//! # Replies ([`classify_reply`])
//!
//! Twilio's `OptOutType` form field (present when Advanced Opt-Out matched a keyword) wins;
//! otherwise the body is compared with Twilio's default English keywords, as a single
//! keyword only: "stop" and "Stop!" opt out, "Stop calling me please" does not.

use std::collections::BTreeMap;

use chrono::{
    DateTime, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use thiserror::Error;

use crate::config::{BusinessConfig, EndTime, MessageKind, QuietHours};
use crate::speak::Language;
use crate::template::{self, TemplateError};

// --- Encoding and segments ---

/// The character encoding a text is sent in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// The GSM 03.38 default alphabet, 7 bits a character (extension characters take two).
    Gsm7,
    /// UCS-2 / UTF-16, 16 bits a code unit; used when any character is outside GSM-7.
    Ucs2,
}

/// How a text is sent: its encoding, its length in that encoding and the number of billed
/// message segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets for [`Encoding::Gsm7`], UTF-16 code units for [`Encoding::Ucs2`].
    pub units: usize,
    /// Message segments (1 for a single message, at least 2 for a concatenated one).
    pub segments: usize,
}

/// Septets in a single GSM-7 message.
const GSM7_SINGLE: usize = 160;
/// Septets in each part of a concatenated GSM-7 message.
const GSM7_PART: usize = 153;
/// UTF-16 code units in a single UCS-2 message.
const UCS2_SINGLE: usize = 70;
/// UTF-16 code units in each part of a concatenated UCS-2 message.
const UCS2_PART: usize = 67;

/// Septets `c` takes in the GSM 03.38 default alphabet (2 for the extension table), or
/// `None` when it isn't in the alphabet.
fn gsm7_septets(c: char) -> Option<usize> {
    match c {
        // The basic table, row by row of the 3GPP TS 23.038 layout (without the escape).
        '@' | '£' | '$' | '¥' | 'è' | 'é' | 'ù' | 'ì' | 'ò' | 'Ç' | '\n' | 'Ø' | 'ø' | '\r'
        | 'Å' | 'å' => Some(1),
        '_' | '\u{0394}' // Δ
        | '\u{03A6}' // Φ
        | '\u{0393}' // Γ
        | '\u{039B}' // Λ
        | '\u{03A9}' // Ω
        | '\u{03A0}' // Π
        | '\u{03A8}' // Ψ
        | '\u{03A3}' // Σ
        | '\u{0398}' // Θ
        | '\u{039E}' // Ξ
        | 'Æ' | 'æ' | 'ß' | 'É' => Some(1),
        ' ' | '!' | '"' | '#' | '¤' | '%' | '&' | '\'' | '(' | ')' | '*' | '+' | ',' | '-'
        | '.' | '/' | '0'..='9' | ':' | ';' | '<' | '=' | '>' | '?' => Some(1),
        '¡' | 'A'..='Z' | 'Ä' | 'Ö' | 'Ñ' | 'Ü' | '§' | '¿' | 'a'..='z' | 'ä' | 'ö' | 'ñ' | 'ü'
        | 'à' => Some(1),
        // The extension table: escape + character.
        '\u{0C}' | '^' | '{' | '}' | '\\' | '[' | '~' | ']' | '|' | '€' => Some(2),
        _ => None,
    }
}

/// `(total units, segments)` for characters costing `costs` units each, packed greedily into
/// parts of `part` units (a character never straddles two parts) when the total exceeds
/// `single`.
fn pack(costs: impl Iterator<Item = usize> + Clone, single: usize, part: usize) -> (usize, usize) {
    let units = costs.clone().sum();
    if units <= single {
        return (units, 1);
    }
    let (mut parts, mut used) = (1, 0);
    for cost in costs {
        if used + cost > part {
            parts += 1;
            used = 0;
        }
        used += cost;
    }
    (units, parts)
}

/// The encoding, length and segment count of `text` as an SMS (see the module docs).
///
/// The empty text is one GSM-7 segment of 0 units.
pub fn segments(text: &str) -> Segments {
    let (encoding, (units, segments)) = if text.chars().all(|c| gsm7_septets(c).is_some()) {
        let costs = text.chars().map(|c| gsm7_septets(c).unwrap_or(1));
        (Encoding::Gsm7, pack(costs, GSM7_SINGLE, GSM7_PART))
    } else {
        let costs = text.chars().map(char::len_utf16);
        (Encoding::Ucs2, pack(costs, UCS2_SINGLE, UCS2_PART))
    };
    Segments {
        encoding,
        units,
        segments,
    }
}

// --- Rendering ---

/// The longest body Twilio accepts (error 21617 above it), counted here in UTF-16 code
/// units.
pub const MAX_BODY_LENGTH: usize = 1600;

/// A text ready to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The message body, footer included.
    pub body: String,
    /// [`segments`] of `body`.
    pub segments: Segments,
}

/// Why a text can't be rendered.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SmsError {
    /// The template doesn't parse (only possible for a configuration that skipped
    /// validation).
    #[error("the {kind} template is invalid: {source}")]
    Template {
        kind: &'static str,
        source: TemplateError,
    },
    /// Nothing is left of the body once the variables are filled in; Twilio refuses empty
    /// bodies.
    #[error("the {kind} text is empty once its variables are filled in")]
    Empty { kind: &'static str },
    /// The body, footer included, is longer than [`MAX_BODY_LENGTH`].
    #[error(
        "the {kind} text is {length} characters long (UTF-16 code units), footer included; \
         Twilio accepts at most {MAX_BODY_LENGTH}"
    )]
    TooLong { kind: &'static str, length: usize },
}

/// The opt-out instruction appended to texts, in `lang`. All of them are GSM-7.
///
/// "Reply STOP to opt out." / "Responde STOP para darte de baja." / "Répondez STOP pour vous
/// désabonner." / "Antworten Sie STOP zum Abbestellen."
pub fn opt_out_footer(lang: Language) -> &'static str {
    match lang {
        Language::English => "Reply STOP to opt out.",
        // Not "para no recibir más mensajes": `á` is not GSM-7 and would turn every Spanish
        // text into UCS-2 (70 instead of 160 characters a segment).
        Language::Spanish => "Responde STOP para darte de baja.",
        Language::French => "Répondez STOP pour vous désabonner.",
        Language::German => "Antworten Sie STOP zum Abbestellen.",
    }
}

/// The text that tells the business (its escalation number) a caller left a voicemail, in the
/// business's language: who called (name when known, number, or "a withheld number"), how
/// long the message is, then the transcription's first words when there is one, else where
/// to listen. At most [`MAX_BODY_LENGTH`] UTF-16 units (the quote is shortened first).
pub fn staff_voicemail_notice(
    config: &BusinessConfig,
    caller: Option<&str>,
    caller_name: Option<&str>,
    voicemail: &crate::postcall::Voicemail,
) -> String {
    let lang = Language::for_config(config);
    let who = match (caller_name.map(str::trim).filter(|n| !n.is_empty()), caller) {
        (Some(name), Some(number)) => format!("{name} ({number})"),
        (Some(name), None) => name.to_owned(),
        (None, Some(number)) => number.to_owned(),
        (None, None) => match lang {
            Language::English => "a withheld number".to_owned(),
            Language::Spanish => "un número oculto".to_owned(),
            Language::French => "un numéro masqué".to_owned(),
            Language::German => "einer unterdrückten Nummer".to_owned(),
        },
    };
    let secs = voicemail
        .duration_secs
        .map(|s| format!(" ({s} s)"))
        .unwrap_or_default();
    let head = match lang {
        Language::English => format!("{}: new voicemail{secs} from {who}.", config.profile.name),
        Language::Spanish => format!(
            "{}: nuevo mensaje de voz{secs} de {who}.",
            config.profile.name
        ),
        Language::French => format!(
            "{} : nouveau message vocal{secs} de {who}.",
            config.profile.name
        ),
        Language::German => format!(
            "{}: neue Sprachnachricht{secs} von {who}.",
            config.profile.name
        ),
    };
    let listen = voicemail.recording_url.as_deref().map(|url| match lang {
        Language::English => format!("Listen: {url}"),
        Language::Spanish => format!("Escuchar: {url}"),
        Language::French => format!("\u{c9}couter : {url}"),
        Language::German => format!("Anh\u{f6}ren: {url}"),
    });
    let room = MAX_BODY_LENGTH.saturating_sub(head.encode_utf16().count() + 1);
    let tail = voicemail
        .quote(room.clamp(20, 600))
        .or(listen)
        .unwrap_or_default();
    let body = format!("{head} {tail}");
    let body = body.trim();
    body.chars()
        .scan(0usize, |units, c| {
            *units += c.len_utf16();
            (*units <= MAX_BODY_LENGTH).then_some(c)
        })
        .collect()
}

/// Renders the business's text of `kind` with `vars` and appends the opt-out footer (see
/// the module docs for the rules).
///
/// Only the variables `kind` allows are read from `vars`; a missing or blank one renders as
/// nothing. Errors: [`SmsError::Template`] for a template that doesn't parse,
/// [`SmsError::Empty`] when nothing is left, [`SmsError::TooLong`] above
/// [`MAX_BODY_LENGTH`].
pub fn render(
    config: &BusinessConfig,
    kind: MessageKind,
    vars: &BTreeMap<String, String>,
) -> Result<Rendered, SmsError> {
    let template = config.sms.templates.get(kind);
    let allowed = kind.variables();
    let value = |name: &str| -> Option<&str> {
        if !allowed.contains(&name) {
            return None;
        }
        vars.get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    };
    let values: Vec<&str> = allowed.iter().filter_map(|name| value(name)).collect();
    let marker = unused_char(template, &values);
    let blank = marker.map(String::from).unwrap_or_default();
    let text = template::render(template, &|name| {
        Some(value(name).map_or_else(|| blank.clone(), str::to_owned))
    })
    .map_err(|source| SmsError::Template {
        kind: kind.key(),
        source,
    })?;
    let text = match marker {
        Some(marker) => close_gaps(&text, marker),
        None => text,
    };
    let mut body = text.trim().to_owned();
    if body.is_empty() {
        return Err(SmsError::Empty { kind: kind.key() });
    }
    if !tells_how_to_opt_out(template) {
        body.push('\n');
        body.push_str(opt_out_footer(Language::for_config(config)));
    }
    let length = body.encode_utf16().count();
    if length > MAX_BODY_LENGTH {
        return Err(SmsError::TooLong {
            kind: kind.key(),
            length,
        });
    }
    let segments = segments(&body);
    Ok(Rendered { body, segments })
}

/// A private-use character found in none of `template` and `values`, to mark where an empty
/// variable was.
fn unused_char(template: &str, values: &[&str]) -> Option<char> {
    (0xE000..=0xF8FF)
        .chain(0xF_0000..=0xF_FFFD)
        .filter_map(char::from_u32)
        .find(|c| !template.contains(*c) && values.iter().all(|value| !value.contains(*c)))
}

/// Spaces and tabs.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Punctuation that attaches to the word before it.
fn is_closing_punctuation(c: char) -> bool {
    matches!(c, ',' | '.' | ';' | ':' | '!' | '?' | ')')
}

/// Removes the `marker`s (empty variables) from `text` and tidies the blanks around them.
fn close_gaps(text: &str, marker: char) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != marker && !is_blank(c) {
            out.push(c);
            i += 1;
            continue;
        }
        let mut end = i;
        while end < chars.len() && (chars[end] == marker || is_blank(chars[end])) {
            end += 1;
        }
        let run = &chars[i..end];
        if !run.contains(&marker) {
            out.extend(run);
            i = end;
            continue;
        }
        let before = out.chars().last();
        let after = chars.get(end).copied();
        let line_edge = |c: Option<char>| c.is_none_or(|c| c == '\n' || c == '\r');
        let at_line_edge = line_edge(before) || line_edge(after);
        let before_punctuation =
            after.is_some_and(is_closing_punctuation) && run.last() == Some(&marker);
        if !at_line_edge && !before_punctuation && run.iter().any(|c| is_blank(*c)) {
            out.push(' ');
        }
        i = end;
        // A line holding nothing but emptied variables goes, with its line break.
        if matches!(before, None | Some('\n')) {
            if chars.get(i) == Some(&'\r') && chars.get(i + 1) == Some(&'\n') {
                i += 2;
            } else if chars.get(i) == Some(&'\n') {
                i += 1;
            }
        }
    }
    out
}

/// Whether the template's own text (variables left out) contains the word `STOP` in
/// capitals.
fn tells_how_to_opt_out(template: &str) -> bool {
    let Ok(text) = template::render(template, &|_| Some(" ".to_owned())) else {
        return false;
    };
    text.split(|c: char| !c.is_alphanumeric())
        .any(|word| word == "STOP")
}

// --- Quiet hours ---

/// Which instant a local time that happens twice maps to.
#[derive(Clone, Copy)]
enum Pick {
    Earliest,
    Latest,
}

/// The UTC offset of `tz` at the instant `secs`, in seconds.
fn offset_at(tz: Tz, secs: i64) -> i64 {
    let utc = DateTime::from_timestamp(secs, 0)
        .unwrap_or_default()
        .naive_utc();
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// A local wall-clock time as an instant, with the conventions of [`crate::slots`]: twice
/// occurring times by `pick`, skipped times as the first instant after the gap.
fn local_instant(tz: Tz, local: NaiveDateTime, pick: Pick) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.with_timezone(&Utc),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            match pick {
                Pick::Earliest => a.min(b),
                Pick::Latest => a.max(b),
            }
        }
        LocalResult::None => {
            // The first instant whose local time is at or after `local`: the instant the
            // clocks jump. Offsets stay within ±18 h and only move forward around a gap.
            let wall = local.and_utc().timestamp();
            let (mut lo, mut hi) = (wall - 20 * 3600, wall + 20 * 3600);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if mid + offset_at(tz, mid) >= wall {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            DateTime::from_timestamp(hi, 0).unwrap_or_default()
        }
    }
}

/// The instants `[start, end)` of the quiet window that starts on the local `date`.
fn window(tz: Tz, quiet: &QuietHours, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let next = date.checked_add_days(Days::new(1)).unwrap_or(date);
    let start = local_instant(tz, date.and_time(quiet.start), Pick::Earliest);
    let end = match quiet.end {
        EndTime::At(end) if end <= quiet.start => {
            local_instant(tz, next.and_time(end), Pick::Latest)
        }
        EndTime::At(end) => local_instant(tz, date.and_time(end), Pick::Latest),
        EndTime::EndOfDay => local_instant(tz, next.and_time(NaiveTime::MIN), Pick::Earliest),
    };
    (start, end)
}

/// When a text due at `now` may be sent: `now` outside the quiet hours, else the instant
/// the window ends (local wall-clock times in `tz`; see the module docs for midnight and
/// daylight saving). `None` means no quiet hours.
///
/// A window that covers no time or the whole day (start equal to end, or `00:00`–`24:00`;
/// both refused by configuration validation) never delays a text.
pub fn send_at(now: DateTime<Utc>, tz: Tz, quiet: Option<&QuietHours>) -> DateTime<Utc> {
    let Some(quiet) = quiet else {
        return now;
    };
    let degenerate = match quiet.end {
        EndTime::At(end) => end == quiet.start,
        EndTime::EndOfDay => quiet.start == NaiveTime::MIN,
    };
    if degenerate {
        return now;
    }
    let mut at = now;
    // A window on a day the clocks go back can last past the next one's start: repeat until
    // `at` is outside every window.
    for _ in 0..4 {
        let today = at.with_timezone(&tz).date_naive();
        let days = [today.pred_opt(), Some(today), today.succ_opt()];
        let end = days
            .into_iter()
            .flatten()
            .map(|date| window(tz, quiet, date))
            .filter(|(start, end)| *start <= at && at < *end)
            .map(|(_, end)| end)
            .max();
        match end {
            Some(end) => at = end,
            None => break,
        }
    }
    at
}

// --- Replies ---

/// What an inbound text asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reply {
    /// Stop texting this number (STOP, UNSUBSCRIBE, ...). Twilio blocks further texts
    /// (error 21610) until the caller opts back in.
    OptOut,
    /// Texts are welcome again (START, UNSTOP, YES).
    OptIn,
    /// A request for help (HELP, INFO).
    Help,
    /// Anything else: a message for the business.
    Other,
}

/// Twilio's default opt-out keywords, plus `STOP ALL`.
const OPT_OUT_KEYWORDS: &[&str] = &[
    "STOP",
    "STOPALL",
    "STOP ALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "OPTOUT",
    "REVOKE",
];
/// Twilio's default opt-in keywords.
const OPT_IN_KEYWORDS: &[&str] = &["START", "YES", "UNSTOP"];
/// Twilio's default help keywords.
const HELP_KEYWORDS: &[&str] = &["HELP", "INFO"];

/// Punctuation ignored around a keyword.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '¡' | '¿'
                | '«'
                | '»'
                | '‘'
                | '’'
                | '“'
                | '”'
                | '…'
                | '–'
                | '—'
                | '·'
                | '。'
                | '、'
                | '！'
                | '？'
                | '，'
                | '．'
        )
}

/// Classifies an inbound text.
///
/// `opt_out_type` is Twilio's `OptOutType` form field: `STOP`, `START` or `HELP` (any case)
/// decide alone; any other value is ignored. Otherwise `body`, trimmed of whitespace and
/// punctuation at both ends, with inner whitespace runs read as one space, must be exactly
/// one of Twilio's default keywords (ASCII case-insensitive): `STOP`, `STOPALL`, `STOP ALL`,
/// `UNSUBSCRIBE`, `CANCEL`, `END`, `QUIT`, `OPTOUT`, `REVOKE` opt out; `START`, `YES`,
/// `UNSTOP` opt in; `HELP`, `INFO` ask for help. Everything else is [`Reply::Other`].
pub fn classify_reply(body: &str, opt_out_type: Option<&str>) -> Reply {
    if let Some(kind) = opt_out_type {
        match kind.trim().to_ascii_uppercase().as_str() {
            "STOP" => return Reply::OptOut,
            "START" => return Reply::OptIn,
            "HELP" => return Reply::Help,
            _ => {}
        }
    }
    let trimmed = body.trim_matches(|c: char| c.is_whitespace() || is_punctuation(c));
    let keyword = trimmed
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    let keyword = keyword.as_str();
    if OPT_OUT_KEYWORDS.contains(&keyword) {
        Reply::OptOut
    } else if OPT_IN_KEYWORDS.contains(&keyword) {
        Reply::OptIn
    } else if HELP_KEYWORDS.contains(&keyword) {
        Reply::Help
    } else {
        Reply::Other
    }
}

#[cfg(test)]
mod tests;
