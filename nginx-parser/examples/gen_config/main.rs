//! Writes a large, realistic nginx configuration for benchmarks (see `generator.rs`).
//!
//! ```sh
//! cargo run --release -p nginx-parser --example gen_config -- OUT_PATH SIZE_MB
//! ```
//!
//! `SIZE_MB` is in megabytes of 10^6 bytes and may be fractional; the output is deterministic.

mod generator;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, size] = args.as_slice() else {
        eprintln!("usage: gen_config OUT_PATH SIZE_MB");
        return ExitCode::from(2);
    };
    let mb: f64 = match size.parse() {
        Ok(mb) if mb > 0.0 => mb,
        _ => {
            eprintln!("gen_config: SIZE_MB must be a positive number, got {size:?}");
            return ExitCode::from(2);
        }
    };
    let config = generator::generate((mb * 1e6) as usize);
    if let Err(e) = std::fs::write(path, &config) {
        eprintln!("gen_config: cannot write {path}: {e}");
        return ExitCode::from(1);
    }
    println!("wrote {} bytes to {path}", config.len());
    ExitCode::SUCCESS
}
