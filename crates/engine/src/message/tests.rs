use std::path::PathBuf;

use mail_parser::{MessageParser, MimeHeaders};

use super::attach::AttachmentProblem;
use super::*;

fn columns() -> Vec<String> {
    ["Email", "First Name", "公司", "Code"].map(str::to_owned).to_vec()
}

fn sender() -> Sender {
    Sender {
        address: "news@example.org".to_owned(),
        name: Some("王小明 News".to_owned()),
        reply_to: Some("replies@example.org".to_owned()),
    }
}

fn identity() -> CampaignIdentity {
    CampaignIdentity {
        id: 7,
        created_at: 1_700_000_000_000,
    }
}

fn draft(subject: &str, text: Option<&str>, html: Option<&str>) -> MessageDraft {
    MessageDraft {
        subject: subject.to_owned(),
        text: text.map(str::to_owned),
        html: html.map(str::to_owned),
        ..MessageDraft::default()
    }
}

fn compile(draft: &MessageDraft) -> Result<CompiledMessage> {
    CompiledMessage::compile(draft, &columns(), &sender(), identity(), &ProtectedFiles::default())
}

fn values(first: &str) -> Vec<String> {
    vec![
        "lilei@example.org".to_owned(),
        first.to_owned(),
        "晨光".to_owned(),
        "01234".to_owned(),
    ]
}

fn render(message: &CompiledMessage, first: &str) -> RenderedMessage {
    let values = values(first);
    let rendered = message.render(RecipientData {
        row: 2,
        email: "李雷@example.org",
        values: &values,
    });
    match rendered {
        Ok(rendered) => rendered,
        Err(problem) => panic!("render failed: {problem}"),
    }
}

#[test]
fn column_names_become_safe_unique_field_names() {
    let names = field_names(&[
        "E-Mail Address".to_owned(),
        "First Name".to_owned(),
        "first_name".to_owned(),
        "邮箱".to_owned(),
        "2024 Sales".to_owned(),
        "".to_owned(),
        "None".to_owned(),
    ]);
    assert_eq!(
        names,
        [
            "e_mail_address",
            "first_name",
            "first_name_2",
            "邮箱",
            "_2024_sales",
            "column_6",
            "none_"
        ]
    );
}

#[test]
fn fields_fill_the_subject_and_body_and_empty_cells_take_the_default() {
    let message = compile(&draft(
        "Hello {{ first_name }} from {{ 公司 }}",
        Some("Dear {{ first_name | default(\"there\") }},\ncode {{ code }} for {{ email }}\n"),
        None,
    ))
    .expect("test step");
    let rendered = render(&message, "Lei");
    assert_eq!(rendered.subject, "Hello Lei from 晨光");
    assert_eq!(rendered.text, "Dear Lei,\ncode 01234 for 李雷@example.org\n");
    let empty = render(&message, "  ");
    assert!(empty.text.starts_with("Dear there,"), "{}", empty.text);
}

#[test]
fn an_unknown_field_is_an_error_naming_the_part_line_and_fields() {
    let err =
        compile(&draft("Hi", Some("line one\nHello {{ frist_name }}\n"), None)).expect_err("the test expects an error");
    let Error::Template(template) = &err else {
        panic!("wrong error {err:?}")
    };
    assert_eq!(template.part, TemplatePart::Text);
    assert_eq!(template.line, Some(2));
    let TemplateProblem::UnknownField {
        name,
        suggestion,
        fields,
    } = &template.problem
    else {
        panic!("wrong problem {template:?}")
    };
    assert_eq!(name, "frist_name");
    assert_eq!(
        suggestion.as_deref(),
        Some("first_name"),
        "the nearest column is suggested"
    );
    assert!(fields.contains(&"first_name".to_owned()), "{fields:?}");
    assert!(err.to_string().contains("did you mean \"first_name\""), "{err}");
    assert_eq!(err.kind(), crate::ErrorKind::Template);
}

#[test]
fn a_syntax_error_is_reported_with_its_line() {
    let err = compile(&draft("Hi", None, Some("<p>\n\n{{ first_name </p>"))).expect_err("the test expects an error");
    let Error::Template(template) = &err else {
        panic!("wrong error {err:?}")
    };
    assert_eq!(template.part, TemplatePart::Html);
    assert_eq!(template.line, Some(3));
}

#[test]
fn an_empty_subject_or_body_is_refused() {
    assert!(matches!(
        compile(&draft(" ", Some("x"), None)),
        Err(Error::Template(TemplateError {
            part: TemplatePart::Subject,
            problem: TemplateProblem::EmptySubject,
            ..
        }))
    ));
    assert!(matches!(
        compile(&draft("Hi", Some(" "), None)),
        Err(Error::Template(TemplateError {
            part: TemplatePart::Text,
            problem: TemplateProblem::NoBody,
            ..
        }))
    ));
}

#[test]
fn field_values_are_html_escaped_in_the_html_body_only() {
    let message = compile(&draft(
        "{{ first_name }}",
        Some("{{ first_name }}"),
        Some("<p>{{ first_name }}</p>"),
    ))
    .expect("test step");
    let rendered = render(&message, "<script>alert(1)</script> & Co");
    assert_eq!(
        rendered.html.as_deref(),
        Some("<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; Co</p>")
    );
    assert_eq!(rendered.text, "<script>alert(1)</script> & Co");
}

#[test]
fn a_field_value_with_line_breaks_cannot_add_a_header() {
    let message = compile(&draft("Hi {{ first_name }}", Some("body"), None)).expect("test step");
    let rendered = render(&message, "Lei\r\nBcc: victim@example.com\r\nX-Evil: 1");
    let parsed = MessageParser::default().parse(&rendered.bytes).expect("test step");
    assert!(parsed.header("Bcc").is_none());
    assert!(parsed.header("X-Evil").is_none());
    assert_eq!(parsed.subject(), Some("Hi Lei  Bcc: victim@example.com  X-Evil: 1"));
}

#[test]
fn non_ascii_headers_arrive_intact_and_the_message_id_is_stable() {
    let message = compile(&draft("你好 {{ first_name }}", Some("正文 {{ 公司 }}"), None)).expect("test step");
    let first = render(&message, "李雷");
    let parsed = MessageParser::default().parse(&first.bytes).expect("test step");
    assert_eq!(parsed.subject(), Some("你好 李雷"));
    let from = parsed.from().and_then(|a| a.first()).expect("test step");
    assert_eq!(from.name(), Some("王小明 News"));
    assert_eq!(from.address(), Some("news@example.org"));
    assert_eq!(
        parsed.to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("李雷@example.org")
    );
    assert_eq!(
        parsed.reply_to().and_then(|a| a.first()).and_then(|a| a.address()),
        Some("replies@example.org")
    );
    assert_eq!(parsed.body_text(0).as_deref(), Some("正文 晨光"));
    assert!(parsed.date().is_some());
    assert_eq!(first.message_id, "<mailroom.7.2.18bcfe56800@example.org>");
    assert_eq!(parsed.message_id(), Some("mailroom.7.2.18bcfe56800@example.org"));
    let again = render(&message, "李雷");
    assert_eq!(again.message_id, first.message_id);
    assert_ne!(message.message_id(3), first.message_id);
}

#[test]
fn list_unsubscribe_is_on_by_default_with_one_click_when_there_is_a_url() {
    let mut with_url = draft("Hi", Some("body"), None);
    with_url.unsubscribe.url = Some("https://example.org/u?e={{ email | urlencode }}".to_owned());
    let rendered = render(&compile(&with_url).expect("test step"), "Lei");
    let parsed = MessageParser::default().parse(&rendered.bytes).expect("test step");
    let header = parsed
        .header_raw("List-Unsubscribe")
        .expect("test step")
        .replace("\r\n", "");
    let header = header.trim();
    assert_eq!(
        header,
        "<mailto:news@example.org?subject=unsubscribe>, <https://example.org/u?e=%E6%9D%8E%E9%9B%B7%40example.org>"
    );
    assert_eq!(
        parsed.header_raw("List-Unsubscribe-Post").map(str::trim),
        Some("List-Unsubscribe=One-Click")
    );

    let plain = render(&compile(&draft("Hi", Some("body"), None)).expect("test step"), "Lei");
    let parsed = MessageParser::default().parse(&plain.bytes).expect("test step");
    assert!(parsed.header_raw("List-Unsubscribe").is_some());
    assert!(
        parsed.header_raw("List-Unsubscribe-Post").is_none(),
        "one-click needs a URL"
    );

    let mut off = draft("Hi", Some("body"), None);
    off.unsubscribe.enabled = false;
    let rendered = render(&compile(&off).expect("test step"), "Lei");
    let parsed = MessageParser::default().parse(&rendered.bytes).expect("test step");
    assert!(parsed.header_raw("List-Unsubscribe").is_none());

    let mut bad = draft("Hi", Some("body"), None);
    bad.unsubscribe.url = Some("javascript:alert(1)".to_owned());
    assert!(compile(&bad).is_err());
}

#[test]
fn html_only_gets_a_readable_plain_text_part() {
    let message = compile(&draft(
        "Hi",
        None,
        Some("<h1>Hello {{ first_name }}</h1><p>See <a href=\"https://example.org\">our site</a>.</p>"),
    ))
    .expect("test step");
    let rendered = render(&message, "Lei");
    assert!(rendered.text.contains("Hello Lei"), "{}", rendered.text);
    assert!(rendered.text.contains("https://example.org"), "{}", rendered.text);
    assert!(!rendered.text.contains('<'), "{}", rendered.text);
    let parsed = MessageParser::default().parse(&rendered.bytes).expect("test step");
    assert_eq!(parsed.text_body_count(), 1);
    assert_eq!(parsed.html_body_count(), 1);
}

#[test]
fn a_runaway_template_runs_out_of_fuel_instead_of_hanging() {
    let message = compile(&draft(
        "Hi",
        Some("{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"),
        None,
    ))
    .expect("test step");
    let values = values("Lei");
    let err = message
        .render(RecipientData {
            row: 2,
            email: "a@example.org",
            values: &values,
        })
        .expect_err("the test expects an error");
    assert!(
        matches!(
            err.problem,
            TemplateProblem::Render {
                cause: TemplateCause::OutOfFuel,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn attachments_shared_and_per_recipient_and_missing_ones_are_named() {
    let folder = tempfile::tempdir().expect("test step");
    let shared = folder.path().join("brochure.pdf");
    std::fs::write(&shared, b"%PDF-1.4 shared").expect("test step");
    std::fs::write(folder.path().join("01234.txt"), b"for Lei only").expect("test step");

    let mut with_files = draft("Hi", Some("body"), None);
    with_files.attachments = vec![shared];
    with_files.attachment_column = Some("Code".to_owned());
    with_files.attachment_folder = Some(folder.path().to_owned());
    let mut columns = columns();
    columns[3] = "Code".to_owned();
    let message = CompiledMessage::compile(&with_files, &columns, &sender(), identity(), &ProtectedFiles::default())
        .expect("test step");
    let values = vec![
        "a@example.org".to_owned(),
        "Lei".to_owned(),
        "x".to_owned(),
        "01234.txt".to_owned(),
    ];
    let rendered = message
        .render(RecipientData {
            row: 2,
            email: "a@example.org",
            values: &values,
        })
        .expect("test step");
    assert_eq!(rendered.attachments, ["brochure.pdf", "01234.txt"]);
    let parsed = MessageParser::default().parse(&rendered.bytes).expect("test step");
    assert_eq!(parsed.attachment_count(), 2);
    let pdf = parsed.attachment(0).expect("test step");
    assert_eq!(pdf.attachment_name(), Some("brochure.pdf"));
    assert_eq!(pdf.content_type().map(|c| c.subtype()), Some(Some("pdf")));
    assert_eq!(pdf.contents(), b"%PDF-1.4 shared");
    assert_eq!(parsed.attachment(1).expect("test step").contents(), b"for Lei only");

    let mut missing = values;
    missing[3] = "nope.txt".to_owned();
    let err = message
        .render(RecipientData {
            row: 3,
            email: "b@example.org",
            values: &missing,
        })
        .expect_err("the test expects an error");
    assert_eq!(
        (err.part, err.row, err.problem),
        (
            TemplatePart::Recipient,
            Some(3),
            TemplateProblem::Attachment {
                problem: AttachmentProblem::Missing {
                    path: folder.path().join("nope.txt").display().to_string()
                }
            }
        )
    );

    let mut gone = with_files;
    gone.attachments = vec![PathBuf::from("/no/such/file.pdf")];
    let err = CompiledMessage::compile(&gone, &columns, &sender(), identity(), &ProtectedFiles::default())
        .expect_err("a file for everyone that is not there");
    assert_eq!(err.kind(), crate::ErrorKind::AttachmentUnreadable);
    assert_eq!(
        err.attachment(),
        Some(&AttachmentProblem::Missing {
            path: "/no/such/file.pdf".to_owned()
        })
    );
}

#[test]
fn line_ends_become_crlf_in_one_pass_and_existing_crlf_stays() {
    assert_eq!(crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
    assert_eq!(crlf("\n\n"), "\r\n\r\n");
    assert_eq!(crlf("no line end"), "no line end");
    assert_eq!(crlf("李雷\n王"), "李雷\r\n王");
    assert_eq!(crlf(""), "");
}

#[test]
fn every_mail_has_one_header_block_with_date_sender_and_mime_version() {
    for body in [
        draft("Hi {{ first_name }}", Some("Hello\nthere"), None),
        draft("Hi {{ first_name }}", Some("Hello\nthere"), Some("<p>Hello</p>")),
    ] {
        let rendered = render(&compile(&body).expect("test step"), "Lei");
        let source = rendered.source();
        let (head, _) = source.split_once("\r\n\r\n").expect("a blank line ends the headers");
        for name in [
            "Date: ",
            "From: ",
            "Reply-To: ",
            "To: ",
            "Subject: ",
            "Message-ID: ",
            "MIME-Version: 1.0",
            "Content-Type: ",
        ] {
            let lines = head.lines().filter(|line| line.starts_with(name)).count();
            assert_eq!(lines, 1, "{name} in:\n{head}");
        }
        let parsed = MessageParser::default().parse(&rendered.bytes).expect("test step");
        let date = parsed.date().expect("a Date header").to_timestamp();
        let now = i64::try_from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("test step")
                .as_secs(),
        )
        .expect("test step");
        assert!((now - date).abs() <= 2, "{date} vs {now}");
        let text = parsed.body_text(0).expect("a text part").replace("\r\n", "\n");
        assert_eq!(text.trim_end(), "Hello\nthere");
    }
}

#[test]
fn a_file_name_with_merge_fields_finds_each_recipients_file_and_is_checked_like_a_template() {
    let folder = tempfile::tempdir().expect("test step");
    std::fs::write(folder.path().join("invoice-01234.pdf"), b"%PDF Lei").expect("test step");
    let mut named = draft("Hi", Some("Your invoice."), None);
    named.attachment_name = Some("invoice-{{ code }}.pdf".to_owned());
    named.attachment_folder = Some(folder.path().to_owned());
    let message = compile(&named).expect("test step");
    let rendered = render(&message, "Lei");
    assert_eq!(rendered.attachments, ["invoice-01234.pdf"]);
    let parsed = MessageParser::default().parse(&rendered.bytes).expect("test step");
    assert_eq!(parsed.attachment(0).expect("test step").contents(), b"%PDF Lei");

    let mut values = values("Bo");
    values[3] = "99999".to_owned();
    let data = RecipientData {
        row: 3,
        email: "bo@example.org",
        values: &values,
    };
    assert_eq!(
        message.recipient_attachment(&data),
        Ok(Some(folder.path().join("invoice-99999.pdf")))
    );
    let err = message.render(data).expect_err("Bo's invoice is not there");
    assert!(err.to_string().contains("invoice-99999.pdf"), "{err}");

    named.attachment_name = Some("invoice-{{ number }}.pdf".to_owned());
    let err = compile(&named).expect_err("an unknown field in the file name is refused");
    assert!(err.to_string().contains("number"), "{err}");
    named.attachment_name = Some("invoice-{{ code }}.pdf".to_owned());
    named.attachment_column = Some("Code".to_owned());
    assert!(compile(&named).is_err(), "a column and a file name at once are refused");
}

/// `body` encodes by itself instead of through lettre's `Body::new`: each of
/// its three choices must still say what it did and decode to the text.
#[test]
fn bodies_are_7bit_quoted_printable_or_base64_and_decode_to_the_text() {
    let long_line = format!("{}= and trailing space \n", "Lorem ipsum dolor sit amet. ".repeat(40));
    let cases = [
        ("Short ASCII lines.\nSecond line.\n".to_owned(), "7bit"),
        (long_line, "quoted-printable"),
        ("Grüße aus Köln, {{ first_name }}.\n".to_owned(), "quoted-printable"),
        ("你好，{{ first_name }}！这是一封很长的中文邮件。\n".repeat(3), "base64"),
    ];
    for (text, encoding) in cases {
        let message = compile(&draft("Hi", Some(&text), None)).expect("compile");
        let rendered = render(&message, "Lei");
        let raw = String::from_utf8_lossy(&rendered.bytes).into_owned();
        assert!(
            raw.contains(&format!("Content-Transfer-Encoding: {encoding}\r\n")),
            "{encoding} expected:\n{raw}"
        );
        assert!(
            raw.split("\r\n").all(|line| line.len() <= 78),
            "a line over 78 characters:\n{raw}"
        );
        let parsed = MessageParser::default().parse(&rendered.bytes).expect("parse");
        let decoded = parsed.body_text(0).expect("text part").replace("\r\n", "\n");
        // The part ends with a line break of its own after a 7bit body.
        assert_eq!(
            decoded.trim_end_matches('\n'),
            rendered.text.trim_end_matches('\n'),
            "{encoding}"
        );
    }
}

/// The template problem `compile` reports for a text body `source`: its
/// line and what it says.
fn refused(source: &str) -> (Option<usize>, String) {
    match compile(&draft("Hi", Some(source), None)) {
        Err(Error::Template(template)) => {
            assert_eq!(template.part, TemplatePart::Text, "{source}");
            (template.line, template.problem.to_string())
        }
        other => panic!("{source}: expected a template error, got {other:?}"),
    }
}

/// Renders a text body `source` for a recipient whose first name is `first`.
fn render_text(source: &str, first: &str) -> Result<String, String> {
    let message = compile(&draft("Hi", Some(source), None)).unwrap_or_else(|e| panic!("{source}: {e}"));
    let values = values(first);
    message
        .render(RecipientData {
            row: 2,
            email: "a@example.org",
            values: &values,
        })
        .map(|m| m.text)
        .map_err(|e| e.to_string())
}

#[test]
fn memory_bombs_are_refused_with_their_line_before_anything_is_evaluated() {
    for (source, line, says) in [
        // The issue's own: 100 MB in one instruction, then 30 copies.
        (
            "Dear {{ first_name }},\n{% set a = \"x\" * 100000000 %}{% for i in range(30) %}{{ a }}{% endfor %}",
            2,
            "* is not available",
        ),
        ("{{ \"x\" * 10000000000 }}", 1, "* is not available"),
        // Compiling alone would fold this into gigabytes.
        (
            "\n\n{{ ((\"x\" * 100000000) ~ (\"x\" * 100000000)) ~ ((\"x\" * 100000000) ~ (\"x\" * 100000000)) }}",
            3,
            "is not available",
        ),
        ("{{ first_name ~ first_name }}", 1, "~ is not available"),
        ("{{ first_name + first_name }}", 1, "+ adds a number"),
        ("{{ [first_name] + [first_name] }}", 1, "+ adds a number"),
        ("{{ first_name[0:] }}", 1, "slices"),
        (
            "{% set ns = namespace(a='x') %}{% for i in range(40) %}{% set ns.a = ns.a %}{% endfor %}",
            1,
            "only range() can be called",
        ),
        (
            "{% set a %}{{ first_name }}{{ first_name }}{% endset %}",
            1,
            "{% set %}…{% endset %} blocks",
        ),
        (
            "{% filter upper %}{{ first_name }}{% endfilter %}",
            1,
            "{% filter %} blocks",
        ),
        (
            "{% macro twice(s) %}{{ twice(s) }}{{ twice(s) }}{% endmacro %}{{ twice(first_name) }}",
            1,
            "macros",
        ),
        ("{% include \"text\" %}", 1, "{% include %}"),
        (
            "{% for x in [1] recursive %}{{ loop([x]) }}{% endfor %}",
            1,
            "recursive loops",
        ),
        (
            "{{ first_name | center(1000000000) }}",
            1,
            "there is no filter \"center\"",
        ),
        ("{{ first_name | format(1) }}", 1, "there is no filter \"format\""),
        (
            "{% if first_name is filter %}{% endif %}",
            1,
            "there is no test \"filter\"",
        ),
        ("{{ debug() }}", 1, "only range() can be called"),
        ("{{ loop.cycle(1, 2) }}", 1, "only range() can be called"),
    ] {
        let (at, problem) = refused(source);
        assert_eq!(at, Some(line), "{source}: {problem}");
        assert!(problem.contains(says), "{source}: {problem}");
    }
    // A part longer than its limit is refused before it is parsed.
    let long_subject = "x".repeat(merge::MAX_LINE_BYTES + 1);
    let err = compile(&draft(&long_subject, Some("Hi"), None)).expect_err("a 16 KB subject");
    assert_eq!(
        err.to_string(),
        "subject: it is 16.1 KB long; this part of a message may be at most 16 KB"
    );
}

#[test]
fn filters_that_could_make_a_large_value_stop_at_the_limit_before_making_it() {
    // Each of these would ask for gigabytes at once without the checks.
    for source in [
        "{{ first_name | indent(2000000000) }}",
        "{{ first_name | indent(width=2000000000, first=true) }}",
        "{% set big = code | indent(1000000, true) %}{{ big | replace('', big) }}",
        "{% set big = code | indent(1000000, true) %}{{ big | replace('0', big) }}",
        "{{ range(100000) | join(code | indent(100, true)) }}",
    ] {
        let err = render_text(source, "Lei").expect_err(source);
        assert!(err.starts_with("row 2, text, line 1: "), "{source}: {err}");
        assert!(err.contains("more than the 1 MB a message allows"), "{source}: {err}");
    }
    // Values under the limit each, but too many of them together.
    let err = render_text(
        "{% for i in range(40) %}{% set v = code | indent(900000, true) %}{% endfor %}",
        "Lei",
    )
    .expect_err("36 MB in all");
    assert!(
        err.contains("all the values made for this recipient would be 16.4 MB, more than the 16 MB"),
        "{err}"
    );
}

#[test]
fn the_rendered_text_of_each_part_stops_at_its_limit() {
    let long_name = "x".repeat(100_000);
    let loop_of_names = "{% for i in range(200) %}{{ first_name }}{% endfor %}";
    let err = render_text(loop_of_names, &long_name).expect_err("20 MB of text");
    assert_eq!(
        err,
        "row 2, text: the text would be longer than 10 MB, the most this part of a message may be"
    );
    let message = compile(&draft(loop_of_names, Some("Hi"), None)).expect("compiles");
    let values = values(&long_name);
    let err = message
        .render(RecipientData {
            row: 2,
            email: "a@example.org",
            values: &values,
        })
        .expect_err("a 20 MB subject");
    assert_eq!(err.problem, TemplateProblem::OutputTooLong { limit: 16 << 10 });
    assert_eq!(
        err.to_string(),
        "row 2, subject: the text would be longer than 16 KB, the most this part of a message may be"
    );
}

#[test]
fn ordinary_templates_still_work() {
    for (source, expected) in [
        ("{{ first_name | default('there') }}", "Lei"),
        (
            "{{ 公司 | upper }} {{ first_name | lower }} {{ 'ann smith' | title }}",
            "晨光 lei Ann Smith",
        ),
        (
            "{{ '  x ' | trim }}|{{ 'hello' | capitalize }}|{{ code | replace('0', 'o') }}",
            "x|Hello|o1234",
        ),
        (
            "{{ code | length }} {{ code | first }} {{ code | last }} {{ code | int + 1 }}",
            "5 0 4 1235",
        ),
        ("{{ (code | float / 3) | round(2) }} {{ -3 | abs }}", "411.33 3"),
        ("{{ 'a;b;c' | split(';') | join(', ') }}", "a, b, c"),
        (
            "{% for x in 'a;b' | split(';') %}{{ loop.index }}:{{ x }} {% endfor %}",
            "1:a 2:b ",
        ),
        (
            "{% for i in range(3) %}{{ i + 1 }}{% if not loop.last %}-{% endif %}{% endfor %}",
            "1-2-3",
        ),
        (
            "{% if first_name is defined and first_name != '' %}Dear {{ first_name }}{% elif email %}Hi{% else %}x{% endif %}",
            "Dear Lei",
        ),
        (
            "{% set greeting = 'Hello' %}{% with n = first_name %}{{ greeting }}, {{ n }}{% endwith %}",
            "Hello, Lei",
        ),
        ("{{ email | urlencode }} {{ row }}", "a%40example.org 2"),
        ("{{ 'a\nb' | indent(2) }}", "a\n  b"),
        ("{{ 'a\n\nb' | indent(2, true, true) }}", "  a\n  \n  b"),
        (
            "{{ 'yes' if code | int > 100 else 'no' }} {{ 2 ** 10 }} {{ 7 // 2 }} {{ 7 % 4 }}",
            "yes 1024 3 3",
        ),
        (
            "{{ [1, 2] | length }} {{ code in '01234' }} {{ code | reverse }}",
            "2 True 43210",
        ),
        ("{{ first_name | default('there', true) }}", "Lei"),
    ] {
        assert_eq!(render_text(source, "Lei").as_deref(), Ok(expected), "{source}");
    }
    // Empty cells still take the default, and HTML still escapes fields.
    assert_eq!(
        render_text("Dear {{ first_name | d('friend') }}", "").as_deref(),
        Ok("Dear friend")
    );
    let html = compile(&draft(
        "Hi",
        None,
        Some("<p>{{ first_name | replace('a', '<b>') }} {{ ['<i>', first_name] | join('&') }}</p>"),
    ))
    .expect("compiles");
    let values = values("Sam & <Ann>");
    let rendered = html
        .render(RecipientData {
            row: 2,
            email: "a@example.org",
            values: &values,
        })
        .expect("renders");
    assert_eq!(
        rendered.html.as_deref(),
        Some("<p>S&lt;b&gt;m &amp; &lt;Ann&gt; &lt;i&gt;&amp;Sam &amp; &lt;Ann&gt;</p>")
    );
}

#[test]
fn a_template_alone_compiles_and_renders_under_the_same_rules() {
    let columns = columns();
    let template =
        MergeTemplate::compile("Hello {{ first_name | default('you') }} from {{ 公司 }}", &columns).expect("compiles");
    let values = values("Lei");
    assert_eq!(
        template.render("a@example.org", &values).as_deref(),
        Ok("Hello Lei from 晨光")
    );
    let err = MergeTemplate::compile("{{ 'x' * 100000000 }}", &columns).expect_err("a bomb");
    assert_eq!(err.kind(), crate::ErrorKind::Template);
    let err = MergeTemplate::compile("{{ nobody }}", &columns).expect_err("no such field");
    assert!(err.to_string().contains("there is no merge field \"nobody\""), "{err}");
    let indent = MergeTemplate::compile("{{ code | indent(2000000000) }}", &columns).expect("compiles");
    assert!(indent.render("a@example.org", &values).is_err());
}

/// A sender's files as a crafted list would reach for them: `secret.txt`
/// beside the attachment folder, a database folder with the password key,
/// and in the folder a good file, a link out and a FIFO.
struct Files {
    root: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        let root = tempfile::tempdir().expect("temp dir");
        let files = root.path().join("files");
        std::fs::create_dir_all(&files).expect("mkdir");
        std::fs::create_dir_all(root.path().join("data")).expect("mkdir");
        std::fs::write(root.path().join("secret.txt"), b"the sender's secret").expect("write");
        std::fs::write(root.path().join("data/secrets.key"), [7u8; 32]).expect("write");
        std::fs::write(root.path().join("data/m.db"), b"SQLite format 3").expect("write");
        std::fs::write(files.join("ok.txt"), b"for you").expect("write");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(root.path().join("secret.txt"), files.join("out.txt")).expect("symlink");
            let made = std::process::Command::new("mkfifo")
                .arg(files.join("pipe.txt"))
                .status()
                .expect("mkfifo");
            assert!(made.success());
        }
        Files { root }
    }

    fn folder(&self) -> PathBuf {
        self.root.path().join("files")
    }

    fn protected(&self) -> ProtectedFiles {
        ProtectedFiles::for_database(&self.root.path().join("data/m.db"))
    }

    /// The message with `draft`'s per-recipient file from the `Code` column.
    fn compile(&self, mut draft: MessageDraft, folder: PathBuf) -> Result<CompiledMessage> {
        draft.attachment_folder = Some(folder);
        let mut columns = columns();
        columns[3] = "Code".to_owned();
        CompiledMessage::compile(&draft, &columns, &sender(), identity(), &self.protected())
    }
}

/// Renders for a recipient whose `Code` is `code`: the names of the files
/// attached, or why the mail cannot be made.
fn attached(message: &CompiledMessage, code: &str) -> Result<Vec<String>, TemplateError> {
    let mut values = values("Lei");
    values[3] = code.to_owned();
    message
        .render(RecipientData {
            row: 2,
            email: "a@example.org",
            values: &values,
        })
        .map(|m| m.attachments)
}

/// What [`attached`] found wrong with the recipient's own file.
fn file_problem(message: &CompiledMessage, code: &str) -> AttachmentProblem {
    match attached(message, code) {
        Err(TemplateError {
            part: TemplatePart::Recipient,
            problem: TemplateProblem::Attachment { problem },
            ..
        }) => problem,
        other => panic!("{code}: not an attachment problem: {other:?}"),
    }
}

#[test]
fn a_recipients_file_is_only_ever_taken_from_inside_the_chosen_folder() {
    let files = Files::new();
    let mut by_column = draft("Hi", Some("body"), None);
    by_column.attachment_column = Some("Code".to_owned());
    let message = files.compile(by_column.clone(), files.folder()).expect("compiles");

    let folder = files.folder().display().to_string();
    assert_eq!(attached(&message, "ok.txt"), Ok(vec!["ok.txt".to_owned()]));
    for code in ["../secret.txt", "sub/../../secret.txt", "/etc/hostname"] {
        assert_eq!(
            file_problem(&message, code),
            AttachmentProblem::OutsideFolder {
                name: code.to_owned(),
                folder: folder.clone()
            }
        );
    }
    let outside = file_problem(&message, "../secret.txt");
    assert!(
        outside
            .to_string()
            .contains("\"../secret.txt\" leads out of the folder"),
        "{outside}"
    );
    #[cfg(unix)]
    {
        assert_eq!(
            file_problem(&message, "out.txt"),
            AttachmentProblem::LinkOutsideFolder {
                path: files.folder().join("out.txt").display().to_string(),
                folder: folder.clone()
            }
        );
        // Refused, not read: reading a FIFO would wait forever.
        assert_eq!(
            file_problem(&message, "pipe.txt"),
            AttachmentProblem::NotAFile {
                path: files.folder().join("pipe.txt").display().to_string()
            }
        );
    }

    // A file name with merge fields: `{{ code }}` = `../secret`.
    let mut by_name = draft("Hi", Some("body"), None);
    by_name.attachment_name = Some("{{ code }}.txt".to_owned());
    let message = files.compile(by_name, files.folder()).expect("compiles");
    assert_eq!(attached(&message, "ok"), Ok(vec!["ok.txt".to_owned()]));
    assert_eq!(
        file_problem(&message, "../secret"),
        AttachmentProblem::OutsideFolder {
            name: "../secret.txt".to_owned(),
            folder
        }
    );

    // Without a folder, a column of full paths is no longer a way out.
    let mut no_folder = by_column;
    no_folder.attachment_folder = None;
    let mut columns = columns();
    columns[3] = "Code".to_owned();
    let err = CompiledMessage::compile(&no_folder, &columns, &sender(), identity(), &files.protected())
        .expect_err("no folder");
    assert!(
        err.to_string().starts_with("attachment_folder: choose the folder"),
        "{err}"
    );
}

#[test]
fn mailroom_s_own_files_are_never_attached() {
    let files = Files::new();
    // A folder that holds the database's folder: everything else in it may go.
    let mut by_column = draft("Hi", Some("body"), None);
    by_column.attachment_column = Some("Code".to_owned());
    let message = files
        .compile(by_column, files.root.path().to_owned())
        .expect("compiles");
    assert_eq!(attached(&message, "secret.txt"), Ok(vec!["secret.txt".to_owned()]));
    for own in ["data/secrets.key", "data/m.db", "data/./m.db"] {
        assert_eq!(
            file_problem(&message, own),
            AttachmentProblem::OwnFile {
                path: files.root.path().join(own).display().to_string()
            }
        );
    }

    // Nor as a file for everyone.
    let mut shared = draft("Hi", Some("body"), None);
    shared.attachments = vec![files.root.path().join("data/secrets.key")];
    let err =
        CompiledMessage::compile(&shared, &columns(), &sender(), identity(), &files.protected()).expect_err("the key");
    assert_eq!(err.kind(), crate::ErrorKind::AttachmentUnreadable);
    assert_eq!(
        err.attachment(),
        Some(&AttachmentProblem::OwnFile {
            path: files.root.path().join("data/secrets.key").display().to_string()
        })
    );
    assert!(err.to_string().contains("one of Mailroom's own files"), "{err}");
    #[cfg(unix)]
    {
        let link = files.root.path().join("innocent.pdf");
        std::os::unix::fs::symlink(files.root.path().join("data/secrets.key"), &link).expect("symlink");
        shared.attachments = vec![link];
        let err = CompiledMessage::compile(&shared, &columns(), &sender(), identity(), &files.protected())
            .expect_err("a link to the key");
        assert!(err.to_string().contains("one of Mailroom's own files"), "{err}");
    }
}

/// The typed problem `compile` reports for a text body `source`.
fn problem_of(source: &str) -> TemplateError {
    match compile(&draft("Hi", Some(source), None)) {
        Err(Error::Template(template)) => template,
        other => panic!("{source}: expected a template error, got {other:?}"),
    }
}

#[test]
fn template_problems_are_data_a_front_end_can_say_in_its_language() {
    // A tag left open: the offending line, verbatim.
    let open = problem_of("Dear {{ first_name }},\nyour code is {{ code");
    assert_eq!(open.line, Some(2));
    assert_eq!(
        open.problem,
        TemplateProblem::Unclosed {
            text: "your code is {{ code".to_owned()
        }
    );
    let open_block = problem_of("{% if code %}\nyes\n");
    assert!(
        matches!(open_block.problem, TemplateProblem::Unclosed { .. }),
        "{open_block:?}"
    );

    // Another syntax error: minijinja's kind, by Mailroom's name, and the line.
    let syntax = problem_of("one\n{{ first_name ) }}");
    assert_eq!(syntax.line, Some(2));
    let TemplateProblem::Syntax { cause, text, .. } = &syntax.problem else {
        panic!("wrong problem {syntax:?}")
    };
    assert_eq!(*cause, TemplateCause::Syntax);
    assert_eq!(text, "{{ first_name ) }}");

    // A filter that does not exist, with the one nearest it.
    let filter = problem_of("{{ first_name | uper }}");
    assert_eq!(
        filter.problem,
        TemplateProblem::UnknownFilter {
            name: "uper".to_owned(),
            suggestion: Some("upper".to_owned())
        }
    );
    // Nothing near: no suggestion.
    let far = problem_of("{{ first_name | frobnicate }}");
    assert!(
        matches!(&far.problem, TemplateProblem::UnknownFilter { suggestion: None, .. }),
        "{far:?}"
    );

    // What a message may not use.
    assert_eq!(
        problem_of("{{ first_name * 3 }}").problem,
        TemplateProblem::NotAvailable {
            construct: Construct::Repeat
        }
    );
}

#[test]
fn address_and_column_problems_are_typed_too() {
    let sender = Sender {
        address: "me@example..org".to_owned(),
        name: None,
        reply_to: None,
    };
    let err = CompiledMessage::compile(
        &draft("Hi", Some("x"), None),
        &columns(),
        &sender,
        identity(),
        &ProtectedFiles::default(),
    )
    .expect_err("the sender's domain is not valid");
    let Error::Template(template) = &err else {
        panic!("wrong error {err:?}")
    };
    assert_eq!(
        template.problem,
        TemplateProblem::BadAddress {
            role: AddressRole::Sender,
            address: "me@example..org".to_owned(),
            problem: crate::address::InvalidReason::BadDomain,
        }
    );

    let mut by_column = draft("Hi", Some("x"), None);
    by_column.attachment_column = Some("cdoe".to_owned());
    by_column.attachment_folder = Some(PathBuf::from("/tmp"));
    let err = compile(&by_column).expect_err("no such column");
    let Error::Template(template) = &err else {
        panic!("wrong error {err:?}")
    };
    let TemplateProblem::UnknownColumn { name, suggestion, .. } = &template.problem else {
        panic!("wrong problem {template:?}")
    };
    assert_eq!((name.as_str(), suggestion.as_deref()), ("cdoe", Some("Code")));
}

#[test]
fn a_value_too_large_is_typed_with_its_size_and_limit() {
    let err = render_typed("{{ first_name | indent(2000000000) }}", "Lei").expect_err("2 GB");
    assert_eq!(err.part, TemplatePart::Text);
    assert_eq!(err.row, Some(2));
    assert!(
        matches!(
            err.problem,
            TemplateProblem::TooLarge { made: Made::Value, limit, .. } if limit == merge::MAX_VALUE_BYTES as u64
        ),
        "{err:?}"
    );
}

/// As [`render_text`], with the typed error.
fn render_typed(source: &str, first: &str) -> Result<String, TemplateError> {
    let message = compile(&draft("Hi", Some(source), None)).unwrap_or_else(|e| panic!("{source}: {e}"));
    let values = values(first);
    message
        .render(RecipientData {
            row: 2,
            email: "a@example.org",
            values: &values,
        })
        .map(|m| m.text)
}
