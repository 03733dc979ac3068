//! The template compiler as a fuzz target: arbitrary template text as the
//! subject, text and HTML of a message, compiled against a few columns
//! (`CompiledMessage::compile`) and rendered for one recipient. Errors are
//! fine; a panic, a hang or memory past the limit is a finding.

use mailroom_engine::message::{
    CampaignIdentity, CompiledMessage, MessageDraft, ProtectedFiles, RecipientData, Sender,
};

/// Separates the subject, the text and the HTML in an input.
const PART: u8 = 0x1f;

pub const SEEDS: &[&str] = &[
    "Hello {{ name }}\x1fDear {{ name | default(\"friend\") }},\nyour code is {{ code }}.\x1f<p>Hi {{ name }}</p>",
    "{% if city %}In {{ city }}{% else %}Hi{% endif %}\x1f{% for c in name %}{{ loop.index }}{{ c }}{% endfor %}",
    "{{ name | upper }} {{ email | urlencode }}\x1f{{ code | replace(\"a\", \"b\") | trim }}\x1f{{ name | e }}",
    "{% set x = name ~ code %}{{ x }}\x1f{% macro m(a) %}{{ a }}{% endmacro %}{{ m(city) }}",
    "{{ name[0] }}{{ code[1:3] }}\x1f{{ 1 + 2 * 3 }} {{ \"%s\" | format(name) }}\x1f{{ name | indent(4) }}",
];

pub const TOKENS: &[&[u8]] = &[
    b"{{",
    b"}}",
    b"{%",
    b"%}",
    b"{#",
    b"#}",
    b"|",
    b"(",
    b")",
    b"[",
    b"]",
    b"\"",
    b"'",
    b"~",
    b"*",
    b"+",
    b"..",
    b"name",
    b"email",
    b"code",
    b"city",
    b"missing",
    b"loop",
    b"range(",
    b"for x in ",
    b"endfor",
    b"if ",
    b"endif",
    b"set ",
    b"macro ",
    b"endmacro",
    b"call",
    b"filter ",
    b"include ",
    b"import ",
    b"extends ",
    b"block ",
    b"raw",
    b"endraw",
    b"| default(",
    b"| indent(",
    b"| replace(",
    b"| join(",
    b"| center(",
    b"| wordwrap(",
    b"| int",
    b"| float",
    b"| tojson",
    b"| list",
    b"| reverse",
    b"| batch(",
    b"| slice(",
    b"| format(",
    b"9999",
    b"-1",
    b"\x1f",
    b"\n",
    b"\r\n",
    b"\0",
    b"\xe4\xbd\xa0",
];

pub fn run(input: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(input);
    let mut parts = text.split(char::from(PART));
    let subject = parts.next().unwrap_or_default().to_owned();
    let body = parts.next().map(str::to_owned);
    let html = parts.next().map(str::to_owned);
    let draft = MessageDraft {
        subject: if subject.trim().is_empty() {
            "s".to_owned()
        } else {
            subject
        },
        text: body.or_else(|| Some("t".to_owned())),
        html,
        ..MessageDraft::default()
    };
    let columns = ["email", "name", "code", "city"].map(str::to_owned);
    let sender = Sender {
        address: "sender@example.com".to_owned(),
        name: Some("Sender".to_owned()),
        reply_to: None,
    };
    let identity = CampaignIdentity { id: 1, created_at: 0 };
    let Ok(message) = CompiledMessage::compile(&draft, &columns, &sender, identity, &ProtectedFiles::default()) else {
        return Ok(());
    };
    let values = ["ann@example.com", "Ann Lee", "X-42", "Oslo"].map(str::to_owned);
    let _ = message.render(RecipientData {
        row: 2,
        email: "ann@example.com",
        values: &values,
    });
    Ok(())
}
