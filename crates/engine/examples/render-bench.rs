//! Rendering cost per message: a ~2 KB template with 5 merge fields, rendered
//! and built into RFC 5322 bytes (what a campaign does per recipient).
//! `cargo run --release -p mailroom-engine --example render-bench [N]`;
//! with `ONE_LINE=1` the text is one long paragraph (quoted-printable).

use std::time::Instant;

use mailroom_engine::message::{
    CampaignIdentity, CompiledMessage, MessageDraft, ProtectedFiles, RecipientData, Sender,
};

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let columns: Vec<String> = ["email", "first_name", "last_name", "company", "city", "code"]
        .map(str::to_owned)
        .to_vec();
    // A letter's worth of text in lines of about 60 characters, as people write.
    let mut filler = "Lorem ipsum dolor sit amet, consectetur adipiscing elit.\n".repeat(30);
    if std::env::var_os("ONE_LINE").is_some() {
        filler = filler.replace('\n', " ");
    }
    let draft = MessageDraft {
        subject: "Hello {{ first_name }}, news for {{ company }}".to_owned(),
        text: Some(format!(
            "Dear {{{{ first_name }}}} {{{{ last_name }}}},\n\n{filler}\n\nSee you in {{{{ city }}}}. Your code: {{{{ code }}}}.\n"
        )),
        ..MessageDraft::default()
    };
    let sender = Sender {
        address: "news@example.com".to_owned(),
        name: Some("Example News".to_owned()),
        reply_to: None,
    };
    let identity = CampaignIdentity { id: 1, created_at: 0 };
    let protected = ProtectedFiles::default();
    let message = match CompiledMessage::compile(&draft, &columns, &sender, identity, &protected) {
        Ok(message) => message,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let rows: Vec<Vec<String>> = (0..1000)
        .map(|i| {
            vec![
                format!("r{i}@example.org"),
                format!("First{i}"),
                format!("Last{i}"),
                "Example Ltd".to_owned(),
                "Berlin".to_owned(),
                format!("{i:05}"),
            ]
        })
        .collect();
    let mut bytes = 0usize;
    let started = Instant::now();
    for i in 0..n {
        let values = &rows[i % rows.len()];
        match message.render(RecipientData {
            row: i as u64 + 2,
            email: &values[0],
            values,
        }) {
            Ok(rendered) => bytes += rendered.bytes.len(),
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }
    let elapsed = started.elapsed();
    println!(
        "{n} messages, {:.0} bytes each: {:.2} µs per message ({:.0} per second on one core)",
        bytes as f64 / n as f64,
        elapsed.as_secs_f64() * 1e6 / n as f64,
        n as f64 / elapsed.as_secs_f64()
    );
}
