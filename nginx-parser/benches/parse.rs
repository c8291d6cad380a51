//! Parser throughput on a generated ~50 MB configuration (thousands of servers, long maps, Lua
//! bodies; see examples/gen_config/generator.rs). Run with `cargo bench -p nginx-parser`;
//! criterion reports the throughput in MiB/s. `scripts/bench-parser` compares the same parse
//! with crossplane and measures peak memory.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};

#[path = "../examples/gen_config/generator.rs"]
mod generator;

/// The size of the generated file, in bytes.
const SIZE: usize = 50_000_000;

fn bench_parse(c: &mut Criterion) {
    let src = generator::generate(SIZE);
    let check = nginx_parser::parse(&src);
    assert!(
        check.is_ok(),
        "the generated configuration must parse without errors: {:?}",
        &check.errors[..check.errors.len().min(5)]
    );
    drop(check);

    let mut group = c.benchmark_group("parse");
    group
        .throughput(Throughput::Bytes(src.len() as u64))
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    // Dropping a tree of a million directives takes a fair fraction of the parse time: keep it
    // out of the measurement.
    group.bench_function("generated_50mb", |b| {
        b.iter_with_large_drop(|| nginx_parser::parse(std::hint::black_box(&src)))
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
