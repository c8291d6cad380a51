//! The baseline of `scripts/bench-rust`: parses every `.rs` file under a directory with
//! `syn::parse_file`, in parallel, reading each file as `waitlint check` does.
//!
//! `cargo run --release --example syn_parse_all -- DIR` prints `key: value` lines (files, bytes,
//! parsed, failed, seconds). Threads are rayon's global pool, as in `waitlint check`: one per
//! core, or `RAYON_NUM_THREADS`. A file syn cannot parse still counts as parsed (the work was
//! done); a file that cannot be read or is not UTF-8 is counted apart.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use rayon::prelude::*;

#[derive(Default)]
struct Tally {
    bytes: u64,
    parsed: usize,
    syntax_errors: usize,
    unreadable: usize,
}

impl Tally {
    fn merge(mut self, other: Tally) -> Tally {
        self.bytes += other.bytes;
        self.parsed += other.parsed;
        self.syntax_errors += other.syntax_errors;
        self.unreadable += other.unreadable;
        self
    }
}

fn parse_one(path: &PathBuf) -> Tally {
    let mut tally = Tally::default();
    let Ok(text) = std::fs::read(path) else {
        tally.unreadable = 1;
        return tally;
    };
    tally.bytes = text.len() as u64;
    let Ok(source) = std::str::from_utf8(&text) else {
        tally.unreadable = 1;
        return tally;
    };
    tally.parsed = 1;
    if syn::parse_file(source).is_err() {
        tally.syntax_errors = 1;
    }
    // As lints::rust::lint does: proc-macro2's span-locations keep every parsed file's text in
    // a thread-local map until this is called.
    proc_macro2::extra::invalidate_current_thread_spans();
    tally
}

fn main() -> ExitCode {
    let Some(root) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: syn_parse_all DIR");
        return ExitCode::from(2);
    };
    let start = Instant::now();
    let files: Vec<PathBuf> = walkdir::WalkDir::new(&root)
        .follow_links(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "rs"))
        .map(walkdir::DirEntry::into_path)
        .collect();
    let tally = files
        .par_iter()
        .map(parse_one)
        .reduce(Tally::default, Tally::merge);
    let seconds = start.elapsed().as_secs_f64();
    println!("files: {}", files.len());
    println!("bytes: {}", tally.bytes);
    println!("parsed: {}", tally.parsed);
    println!("syntax_errors: {}", tally.syntax_errors);
    println!("unreadable: {}", tally.unreadable);
    println!("threads: {}", rayon::current_num_threads());
    println!("seconds: {seconds:.3}");
    ExitCode::SUCCESS
}
