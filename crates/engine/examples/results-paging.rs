//! How long the Results table takes to answer on a large campaign: the first
//! page, a page deep in the list (by cursor), a filtered page (failed, no
//! such user), a search, and the filters' counts; each the median of 5, in
//! the engine (no process start, no IPC). scripts/bench-results.sh makes the
//! 1,000,000-recipient database and runs this beside `sqlite3`.
//! `cargo run --release -p mailroom-engine --example results-paging DB [CAMPAIGN]`

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailroom_engine::Store;
use mailroom_engine::results::{ReasonClass, RecipientQuery, StateFilter};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let db = PathBuf::from(args.next().ok_or("usage: results-paging DB [CAMPAIGN]")?);
    let campaign: i64 = args.next().map_or(Ok(1), |c| c.parse())?;
    let store = Store::open(&db).await?;
    let page = |query: RecipientQuery| {
        let store = store.clone();
        async move { store.recipient_page(campaign, &query).await }
    };

    // A cursor near the end of the list, for "a page deep in the list".
    let mut walk = RecipientQuery {
        offset: Some(999_800),
        limit: Some(1),
        ..RecipientQuery::default()
    };
    let deep = page(walk.clone()).await?.next;
    walk.offset = None;

    let cases: Vec<(&str, RecipientQuery)> = vec![
        ("first page (100 rows)", RecipientQuery::default()),
        (
            "page at row 999,800, by cursor",
            RecipientQuery {
                after: deep,
                ..RecipientQuery::default()
            },
        ),
        (
            "failed, first page",
            RecipientQuery {
                state: Some(StateFilter::Failed),
                ..RecipientQuery::default()
            },
        ),
        (
            "failed + no such user, first page",
            RecipientQuery {
                state: Some(StateFilter::Failed),
                reason: Some(ReasonClass::NoSuchUser),
                ..RecipientQuery::default()
            },
        ),
        (
            "search \"person 999999\" (one match, last row)",
            RecipientQuery {
                search: Some("Person 999999".to_owned()),
                ..RecipientQuery::default()
            },
        ),
    ];
    for (label, query) in cases {
        let mut times = Vec::new();
        let mut rows = 0;
        for _ in 0..5 {
            let start = Instant::now();
            rows = page(query.clone()).await?.recipients.len();
            times.push(start.elapsed());
        }
        println!(
            "{label:<48} {:>9.1} ms  ({rows} rows)",
            median(&mut times).as_secs_f64() * 1000.0
        );
    }
    for (label, state) in [
        ("counts: states + reasons", None),
        ("counts: reasons among failed", Some(StateFilter::Failed)),
    ] {
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            store.recipient_facets(campaign, state).await?;
            times.push(start.elapsed());
        }
        println!("{label:<48} {:>9.1} ms", median(&mut times).as_secs_f64() * 1000.0);
    }
    Ok(())
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort();
    times[times.len() / 2]
}
