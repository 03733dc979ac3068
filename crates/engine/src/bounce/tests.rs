//! The corpus (testdata/bounces, sources in its SOURCES.md): what each
//! server's notice must read as.

use super::*;

fn corpus(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/bounces")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn own() -> Vec<String> {
    vec!["sender@mailroom.test".to_owned()]
}

fn bounce(name: &str) -> Notice {
    match analyse(&corpus(name), &own()) {
        Analysis::Bounce(notice) => notice,
        other => panic!("{name}: expected a bounce, got {other:?}"),
    }
}

fn id(row: u64) -> Option<MailroomMessageId> {
    Some(MailroomMessageId {
        campaign: 7,
        row,
        created_at: 0x18f2a1b2c3d,
    })
}

/// (address, kind, status) of each failed recipient.
fn summary(notice: &Notice) -> Vec<(String, BounceKind, Option<String>)> {
    notice
        .recipients
        .iter()
        .map(|r| (r.address.clone(), r.kind, r.status.clone()))
        .collect()
}

#[test]
fn rfc3464_reports_are_read_field_by_field() {
    let simple = bounce("rfc3464-simple-timeout.eml");
    assert_eq!(simple.format, "rfc3464");
    assert_eq!(
        summary(&simple),
        vec![(
            "louisl@larry.slip.umd.edu".into(),
            BounceKind::Soft,
            Some("4.0.0".into())
        )]
    );
    assert_eq!(simple.recipients[0].diagnostic, "426 connection timed out");
    assert_eq!(simple.reporting_mta.as_deref(), Some("cs.utk.edu"));
    assert_eq!(simple.returned, id(1));
    assert_eq!(simple.fingerprint, "<199407072116.RAA14128@CS.UTK.EDU>");

    let multi = bounce("rfc3464-multi-recipient.eml");
    assert_eq!(
        summary(&multi),
        vec![
            ("arathib@vnet.ibm.com".into(), BounceKind::Hard, Some("5.0.0".into())),
            ("wsnell@sdcc13.ucsd.edu".into(), BounceKind::Hard, Some("5.0.0".into())),
        ],
        "the delayed recipient is not a failure"
    );
    assert_eq!(
        multi.recipients[0].diagnostic, "550 'arathib@vnet.IBM.COM' is not a registered gateway user",
        "folded lines are joined"
    );
    assert_eq!(multi.recipients[0].remote_mta.as_deref(), Some("vnet.ibm.com"));
    assert!(
        multi.fingerprint.starts_with("sip:"),
        "no Message-ID: a hash of the headers"
    );

    assert_eq!(analyse(&corpus("rfc3464-delayed.eml"), &own()), Analysis::NotAFailure);
}

#[test]
fn postfix_reports_hard_and_mailbox_full() {
    let debian = bounce("postfix-debian-user-unknown.eml");
    assert_eq!(
        summary(&debian),
        vec![("bob@example.test".into(), BounceKind::Hard, Some("5.1.1".into()))]
    );
    assert_eq!(
        debian.recipients[0].diagnostic,
        "550 5.1.1 <bob@example.test>: Recipient address rejected: User unknown in virtual mailbox table"
    );
    assert_eq!(debian.returned, id(2));
    assert_eq!(debian.returned_to.as_deref(), Some("bob@example.test"));

    let two = bounce("postfix-hard-and-mailbox-full.eml");
    assert_eq!(
        summary(&two),
        vec![
            ("kijitora@example.jp".into(), BounceKind::Hard, Some("5.2.1".into())),
            ("noraneko@example.jp".into(), BounceKind::Soft, Some("5.2.2".into())),
        ]
    );
    assert_eq!(two.returned, id(7));

    let qq = bounce("postfix-qq-rejects-ip.eml");
    assert_eq!(
        summary(&qq),
        vec![("nekochan@qq.example.cn".into(), BounceKind::Hard, Some("5.0.0".into()))]
    );
    assert_eq!(qq.recipients[0].remote_mta.as_deref(), Some("mx3.qq.com"));
}

#[test]
fn non_standard_notices_are_read_from_their_words() {
    let gmail = bounce("gmail-user-unknown.eml");
    assert_eq!(gmail.format, "gmail");
    assert_eq!(
        summary(&gmail),
        vec![("userunknown@example.jp".into(), BounceKind::Hard, Some("5.1.1".into()))]
    );
    assert!(
        gmail.recipients[0].diagnostic.contains("User Unknown"),
        "{:?}",
        gmail.recipients[0]
    );
    assert_eq!(gmail.returned, id(3));

    let office = bounce("office365-recipient-not-found.eml");
    assert_eq!(office.format, "exchange");
    assert_eq!(
        summary(&office),
        vec![("kijitora@example.com".into(), BounceKind::Hard, Some("5.1.10".into()))]
    );
    assert!(office.recipients[0].diagnostic.contains("RecipientNotFound"));
    assert_eq!(office.returned, id(4));

    let exim = bounce("exim-user-unknown.eml");
    assert_eq!(exim.format, "exim");
    assert_eq!(
        summary(&exim),
        vec![
            ("kijitora@example.jp".into(), BounceKind::Hard, Some("5.1.1".into())),
            ("sabatora@example.jp".into(), BounceKind::Hard, Some("5.2.1".into())),
        ]
    );
    assert_eq!(exim.returned, id(5));

    let qmail = bounce("qmail-unknown-user.eml");
    assert_eq!(qmail.format, "qmail");
    assert_eq!(summary(&qmail)[0].0, "kijitora@example.ne.jp");
    assert_eq!(summary(&qmail)[0].1, BounceKind::Hard);
    assert!(qmail.recipients[0].diagnostic.contains("550 Unknown user"));
    assert_eq!(qmail.returned, id(6));
}

#[test]
fn chinese_providers_notices_are_read() {
    let netease = bounce("netease163-coremail.eml");
    assert_eq!(netease.format, "coremail");
    assert_eq!(
        summary(&netease),
        vec![("leader@smeoa.com".into(), BounceKind::Soft, None)],
        "a timeout with no code is soft"
    );
    assert_eq!(
        netease.recipients[0].diagnostic,
        "rcpt handle timeout.(rcpt handle timeout)"
    );
    assert_eq!(netease.returned, None, "no returned headers: matched by address");
    assert_eq!(netease.fingerprint, "<5167AD70.AC0F83.19561@163smtp10>");

    let qq = bounce("qq-postmaster.eml");
    assert_eq!(
        qq.recipients[0].diagnostic,
        "收件人不存在 550 Mailbox not found or access denied"
    );
    assert_eq!(
        summary(&qq),
        vec![("nosuchuser@qq.com".into(), BounceKind::Hard, Some("5.1.1".into()))]
    );
}

#[test]
fn replies_receipts_and_broken_notices_are_not_bounces() {
    assert_eq!(
        analyse(&corpus("auto-reply-out-of-office.eml"), &own()),
        Analysis::AutoReply
    );
    assert_eq!(analyse(&corpus("read-receipt-rfc8098.eml"), &own()), Analysis::Other);
    assert_eq!(analyse(&corpus("ordinary-reply.eml"), &own()), Analysis::Other);
    // Broken: no recipient in the status part, and the words name none.
    assert_eq!(analyse(&corpus("malformed-dsn.eml"), &own()), Analysis::Other);
    assert_eq!(analyse(b"", &own()), Analysis::Other);
    assert_eq!(analyse(b"\xff\xfe\x00garbage", &own()), Analysis::Other);
}

#[test]
fn unsubscribe_replies_name_their_sender() {
    assert_eq!(
        analyse(&corpus("unsubscribe-by-subject.eml"), &own()),
        Analysis::Unsubscribe {
            address: "bob.reader@example.org".into()
        }
    );
    assert_eq!(
        analyse(&corpus("unsubscribe-by-body-zh.eml"), &own()),
        Analysis::Unsubscribe {
            address: "wangfang@example.cn".into()
        }
    );
    // The account's own mail (a test sent to itself) is never one.
    let mine = b"From: sender@mailroom.test\r\nTo: sender@mailroom.test\r\nSubject: unsubscribe\r\n\r\n";
    assert_eq!(analyse(mine, &own()), Analysis::Other);
}

#[test]
fn every_cut_of_every_notice_reads_without_panicking() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/bounces");
    for entry in std::fs::read_dir(dir).expect("corpus") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        for end in (0..bytes.len()).step_by(37) {
            let _ = analyse(&bytes[..end], &own());
        }
    }
}

#[test]
fn mailroom_message_ids_parse_and_others_do_not() {
    assert_eq!(MailroomMessageId::parse("<mailroom.7.3.18f2a1b2c3d@x.test>"), id(3));
    assert_eq!(MailroomMessageId::parse("mailroom.7.3.18f2a1b2c3d@x.test"), id(3));
    assert_eq!(MailroomMessageId::parse("<mailroom.7.3@x.test>"), None);
    assert_eq!(MailroomMessageId::parse("<mailroom.7.3.zz@x.test>"), None);
    assert_eq!(MailroomMessageId::parse("<other.7.3.18f@x.test>"), None);
    assert_eq!(MailroomMessageId::parse("<mailroom.7.3.18f.9@x.test>"), None);
}
