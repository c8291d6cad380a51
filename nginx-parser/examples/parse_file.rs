//! Parses one nginx configuration file RUNS times on one thread and prints the best throughput,
//! what the tree holds and the process's peak memory: the numbers `scripts/bench-parser`
//! compares with crossplane.
//!
//! ```sh
//! cargo run --release -p nginx-parser --example parse_file -- PATH [RUNS]
//! ```
//!
//! Output is `key: value` lines. MB is 10^6 bytes. Exits with status 1 when the file has syntax
//! errors (the first ones are printed), so that it also checks a generated file is valid.

use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (path, runs) = match args.as_slice() {
        [path] => (path, 3),
        [path, runs] => match runs.parse::<u32>() {
            Ok(n) if n > 0 => (path, n),
            _ => {
                eprintln!("parse_file: RUNS must be a positive integer, got {runs:?}");
                return ExitCode::from(2);
            }
        },
        _ => {
            eprintln!("usage: parse_file PATH [RUNS]");
            return ExitCode::from(2);
        }
    };
    let src = match std::fs::read(path) {
        Ok(src) => src,
        Err(e) => {
            eprintln!("parse_file: cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };

    let mut first = None;
    let mut best = Duration::MAX;
    let mut first_cpu = None;
    let mut best_cpu: Option<Duration> = None;
    let mut last = None;
    for _ in 0..runs {
        // Drop the previous tree first, so that the peak is one file plus one tree.
        drop(last.take());
        let cpu_start = thread_cpu_time();
        let start = Instant::now();
        let parse = nginx_parser::parse(&src);
        let elapsed = start.elapsed();
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu_time()) {
            let cpu = b.saturating_sub(a);
            first_cpu.get_or_insert(cpu);
            best_cpu = Some(best_cpu.map_or(cpu, |c| c.min(cpu)));
        }
        first.get_or_insert(elapsed);
        best = best.min(elapsed);
        last = Some(parse);
    }
    let parse = last.expect("at least one run");
    let first = first.expect("at least one run");

    let mb = src.len() as f64 / 1e6;
    println!("file: {path}");
    println!("bytes: {}", src.len());
    println!("runs: {runs}");
    // The first run also pays for the kernel handing the process fresh pages; later runs reuse
    // the memory the previous tree gave back to the allocator.
    println!("first_seconds: {:.4}", first.as_secs_f64());
    println!("first_mb_per_s: {:.1}", mb / first.as_secs_f64());
    println!("best_seconds: {:.4}", best.as_secs_f64());
    println!("mb_per_s: {:.1}", mb / best.as_secs_f64());
    // Time on the CPU (user and kernel) rather than on the clock: what one core does when other
    // processes compete for it.
    if let Some(cpu) = first_cpu {
        println!("first_cpu_mb_per_s: {:.1}", mb / cpu.as_secs_f64());
    }
    if let Some(cpu) = best_cpu {
        println!("best_cpu_seconds: {:.4}", cpu.as_secs_f64());
        println!("cpu_mb_per_s: {:.1}", mb / cpu.as_secs_f64());
    }
    println!("directives: {}", parse.config.walk().count());
    println!("comments: {}", parse.config.comments.len());
    println!("errors: {}", parse.errors.len());
    if let Some(kb) = peak_rss_kb() {
        println!("peak_rss_kb: {kb}");
        println!(
            "peak_rss_over_file: {:.2}",
            kb as f64 * 1024.0 / src.len().max(1) as f64
        );
    }
    if parse.errors.is_empty() {
        return ExitCode::SUCCESS;
    }
    let lines = nginx_parser::LineIndex::new(&src);
    for e in parse.errors.iter().take(5) {
        let (line, col) = lines.line_col(&src, e.span.start);
        eprintln!("{path}:{line}:{col}: {}", e.message);
    }
    ExitCode::from(1)
}

/// The time this thread has spent on a CPU, from the scheduler's statistics (Linux).
fn thread_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// The process's peak resident set size (`VmHWM`), on Linux.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
