//! `fuzz`: runs the fuzz harness (docs/FUZZING.md).
//!
//!   fuzz [--seconds N] [--targets csv,xlsx,...] [--rss-mb 1024] [--hang-seconds 60] [--out DIR] [--seed N]
//!
//! The supervisor gives each target an equal share of the time and runs it
//! in a worker process (this binary with `--worker`) under `prlimit --as`,
//! so a runaway allocation fails there instead of taking the machine. The
//! worker writes each input to `DIR/current-<target>` before running it; a
//! watchdog thread ends the worker when an input runs past the hang limit or
//! the process's RSS passes the memory limit, and the peak RSS of every input
//! is checked after it (and reset through /proc/self/clear_refs). A worker
//! that dies leaves its input behind, and the supervisor keeps it. Findings
//! go to `DIR/findings/<target>/<kind>-<hash>.<ext>`; the exit code is 1
//! when there is any.

use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mailroom_e2e::fuzz::{self, Context, Target};

#[derive(Debug, Clone)]
struct Options {
    seconds: u64,
    targets: Vec<Target>,
    rss_mb: u64,
    hang_seconds: u64,
    out: PathBuf,
    seed: u64,
    worker: bool,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        seconds: 60,
        targets: Target::ALL.to_vec(),
        rss_mb: 1024,
        hang_seconds: 60,
        out: fuzz::repo_root().join("target/fuzz"),
        seed: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64),
        worker: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        let number = |v: String| v.parse::<u64>().map_err(|e| format!("{v}: {e}"));
        match arg.as_str() {
            "--seconds" => options.seconds = number(value()?)?,
            "--minutes" => options.seconds = 60 * number(value()?)?,
            "--rss-mb" => options.rss_mb = number(value()?)?,
            "--hang-seconds" => options.hang_seconds = number(value()?)?,
            "--seed" => options.seed = number(value()?)?,
            "--out" => options.out = PathBuf::from(value()?),
            "--worker" => options.worker = true,
            "--targets" => {
                options.targets = value()?
                    .split(',')
                    .map(|t| Target::from_name(t).ok_or_else(|| format!("no target {t}")))
                    .collect::<Result<_, _>>()?;
            }
            other => return Err(format!("unknown argument {other} (see docs/FUZZING.md)")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse() {
        Ok(options) => options,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    if options.worker {
        worker(&options)
    } else {
        supervise(&options)
    }
}

fn findings_dir(out: &Path, target: Target) -> PathBuf {
    out.join("findings").join(target.name())
}

fn current_input(out: &Path, target: Target) -> PathBuf {
    out.join(format!("current-{}", target.name()))
}

/// Keeps `input` as a finding of `kind`; returns where.
fn keep(out: &Path, target: Target, kind: &str, input: &[u8], why: &str) -> PathBuf {
    let dir = findings_dir(out, target);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("{kind}-{}.{}", fuzz::input_hash(input), target.extension()));
    let _ = std::fs::write(&path, input);
    let _ = std::fs::write(path.with_extension("why.txt"), why);
    eprintln!("fuzz: {} finding ({kind}): {} — {why}", target.name(), path.display());
    path
}

fn supervise(options: &Options) -> ExitCode {
    let _ = std::fs::create_dir_all(&options.out);
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("fuzz: {e}");
            return ExitCode::from(2);
        }
    };
    let prlimit = Command::new("prlimit").arg("--version").output().is_ok();
    // The address space a worker may take: room for threads and mappings
    // above the RSS limit, and a hard stop well before the machine's memory.
    let cap = (options.rss_mb * 4).max(4096) * 1024 * 1024;
    let share = (options.seconds / options.targets.len().max(1) as u64).max(1);
    let mut findings = 0;
    let mut seed = options.seed;
    println!(
        "fuzz: {} s over {} targets, RSS limit {} MB, hang limit {} s, seed {seed}, findings in {}",
        options.seconds,
        options.targets.len(),
        options.rss_mb,
        options.hang_seconds,
        findings_dir(&options.out, Target::Csv)
            .parent()
            .map_or_else(String::new, |p| p.display().to_string())
    );
    for &target in &options.targets {
        let deadline = Instant::now() + Duration::from_secs(share);
        // A worker runs until the deadline; another starts after one that died.
        while deadline.saturating_duration_since(Instant::now()) >= Duration::from_secs(1) {
            let left = deadline.saturating_duration_since(Instant::now()).as_secs().max(1);
            let mut command = if prlimit {
                let mut c = Command::new("prlimit");
                c.arg(format!("--as={cap}")).arg("--").arg(&exe);
                c
            } else {
                Command::new(&exe)
            };
            command.args([
                "--worker",
                "--targets",
                target.name(),
                "--seconds",
                &left.to_string(),
                "--rss-mb",
                &options.rss_mb.to_string(),
                "--hang-seconds",
                &options.hang_seconds.to_string(),
                "--seed",
                &seed.to_string(),
            ]);
            command.arg("--out").arg(&options.out);
            seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let status = match command.status() {
                Ok(status) => status,
                Err(e) => {
                    eprintln!("fuzz: cannot start a worker: {e}");
                    return ExitCode::from(2);
                }
            };
            match status.code() {
                Some(0) => {}
                // The worker kept its finding itself (1: findings, 3: hang, 4: memory).
                Some(1 | 3 | 4) => findings += 1,
                _ => {
                    findings += 1;
                    let input = std::fs::read(current_input(&options.out, target)).unwrap_or_default();
                    keep(
                        &options.out,
                        target,
                        "crash",
                        &input,
                        &format!("the worker died: {status}"),
                    );
                }
            }
        }
    }
    println!("fuzz: done, {findings} finding(s)");
    if findings == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// This process's resident set (`VmRSS`) or its peak (`VmHWM`), in KB.
fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn worker(options: &Options) -> ExitCode {
    let Some(&target) = options.targets.first() else {
        return ExitCode::from(2);
    };
    let out = options.out.clone();
    let current = current_input(&out, target);
    let rss_limit_kb = options.rss_mb * 1024;
    // Milliseconds since the worker started at which the current input
    // started; 0 between inputs.
    let started_at = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    {
        let started_at = Arc::clone(&started_at);
        let out = out.clone();
        let current = current.clone();
        let hang = options.hang_seconds * 1000;
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(100));
                let started = started_at.load(Ordering::Relaxed);
                let now = epoch.elapsed().as_millis() as u64;
                let rss = status_kb("VmRSS:");
                let (kind, code) = if started > 0 && now - started > hang {
                    ("hang", 3)
                } else if rss > rss_limit_kb {
                    ("memory", 4)
                } else {
                    continue;
                };
                let input = std::fs::read(&current).unwrap_or_default();
                keep(
                    &out,
                    target,
                    kind,
                    &input,
                    &format!("RSS {} MB after {} ms", rss / 1024, now - started),
                );
                std::process::exit(code);
            }
        });
    }
    let seeds = fuzz::seeds(target);
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let mut context = Context::new();
    let deadline = Instant::now() + Duration::from_secs(options.seconds);
    let (mut runs, mut findings) = (0_u64, 0_u64);
    // The seeds themselves first, then mutations.
    let mut queue: Vec<Vec<u8>> = seeds.clone();
    while Instant::now() < deadline {
        let input = queue
            .pop()
            .unwrap_or_else(|| fuzz::mutate::input(target, &mut rng, &seeds));
        if std::fs::write(&current, &input).is_err() {
            eprintln!("fuzz: cannot write {}", current.display());
            return ExitCode::from(2);
        }
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        started_at.store((epoch.elapsed().as_millis() as u64).max(1), Ordering::Relaxed);
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| fuzz::run_one(target, &mut context, &input)));
        // Saturating: the first input can finish within the process's first
        // millisecond, when the start was stored as 1 (0 means idle).
        let took = (epoch.elapsed().as_millis() as u64).saturating_sub(started_at.load(Ordering::Relaxed));
        started_at.store(0, Ordering::Relaxed);
        runs += 1;
        let peak = status_kb("VmHWM:");
        let problem = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(why)) => Some(("invariant", why)),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                // A panic may leave the context half-used: start a new one.
                context = Context::new();
                Some(("panic", message))
            }
        };
        if let Some((kind, why)) = problem {
            findings += 1;
            keep(&out, target, kind, &input, &why);
        } else if peak > rss_limit_kb {
            findings += 1;
            keep(&out, target, "memory", &input, &format!("peak RSS {} MB", peak / 1024));
        } else if took > options.hang_seconds * 1000 {
            findings += 1;
            keep(&out, target, "hang", &input, &format!("{took} ms"));
        }
    }
    let _ = std::fs::remove_file(&current);
    println!("fuzz: {}: {runs} inputs, {findings} finding(s)", target.name());
    if findings == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
