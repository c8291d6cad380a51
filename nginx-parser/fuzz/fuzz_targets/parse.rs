//! `nginx_parser::parse` on arbitrary bytes: it must not panic, hang or overflow the stack, and
//! its result must satisfy every invariant of `invariants.rs` (also checked by
//! tests/robustness.rs), under the default limits, under tight ones and in crossplane's reading; short inputs are also
//! parsed repeated thousands of times, so that a quadratic scan shows up as a timeout.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nginx_parser::{parse_with, ParseOptions, Reading};

#[path = "../invariants.rs"]
mod invariants;

fn check(data: &[u8], options: &ParseOptions) -> nginx_parser::Parse {
    let parse = parse_with(data, options);
    if let Err(e) = invariants::check(data, &parse, options) {
        panic!("{e}\ninput: {:?}", String::from_utf8_lossy(data));
    }
    parse
}

fuzz_target!(|data: &[u8]| {
    let parse = check(data, &ParseOptions::default());
    if let Err(e) = invariants::check_round_trip(data, &parse) {
        panic!("{e}\ninput: {:?}", String::from_utf8_lossy(data));
    }
    assert!(
        parse_with(data, &ParseOptions::default()) == parse,
        "parsing the same input twice gave different results"
    );
    // Super-linear time: a short input repeated into up to 128 KiB parses in milliseconds
    // unless some scan restarts at each repetition, and then it takes seconds and exceeds the
    // run's -timeout (scripts/fuzz-parser sets 2 s).
    if data.len() <= 16 {
        let _ = parse_with(&data.repeat(8192), &ParseOptions::default());
    }
    // Small limits reach the depth and size errors with the short inputs libFuzzer prefers.
    check(
        data,
        &ParseOptions {
            max_depth: 2,
            max_file_size: 1024,
            ..ParseOptions::default()
        },
    );
    // crossplane's reading (`parse --format crossplane`) keeps the same invariants.
    check(
        data,
        &ParseOptions {
            reading: Reading::Crossplane,
            ..ParseOptions::default()
        },
    );
});
