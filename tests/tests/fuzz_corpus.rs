//! Replays the fuzz harness's regression corpus (tests/fuzz/corpus/<target>/):
//! every input that once crashed, hung or blew up memory, kept as a file
//! after its fix, goes through the same engine calls as in the harness and
//! must now pass its invariants (docs/FUZZING.md). The fixtures the harness
//! starts from are replayed too.

use mailroom_e2e::fuzz::{self, Context, Target};

#[test]
fn every_corpus_input_and_seed_passes() {
    let mut context = Context::new();
    let mut replayed = 0;
    for target in Target::ALL {
        for (i, input) in fuzz::seeds(target).iter().enumerate() {
            if let Err(why) = fuzz::run_one(target, &mut context, input) {
                panic!("{} input {i}: {why}", target.name());
            }
            replayed += 1;
        }
    }
    assert!(replayed >= Target::ALL.len());
}

#[test]
fn a_short_fuzz_run_of_every_target_finds_nothing() {
    // A few hundred mutated inputs per target, in process, from a fixed
    // seed: the harness itself works, and the regression corpus stays good.
    // The longer runs (scripts/test.sh, docs/FUZZING.md) add the RSS cap and
    // the hang watchdog.
    let mut context = Context::new();
    let mut rng = fastrand::Rng::with_seed(15);
    for target in Target::ALL {
        let seeds = fuzz::seeds(target);
        for _ in 0..100 {
            let input = fuzz::mutate::input(target, &mut rng, &seeds);
            if let Err(why) = fuzz::run_one(target, &mut context, &input) {
                let kept = std::env::temp_dir().join(format!("fuzz-{}-{}", target.name(), fuzz::input_hash(&input)));
                let _ = std::fs::write(&kept, &input);
                panic!("{}: {why} (input kept in {})", target.name(), kept.display());
            }
        }
    }
}
