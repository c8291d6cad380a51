//! Builds `docs/evidence.md` from the rows the lab's experiments recorded (see `scripts/evidence`).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, out] = args.as_slice() else {
        eprintln!("usage: evidence-table ROWS_DIR OUTPUT.md");
        std::process::exit(2);
    };
    let rows = match waitlint_lab::evidence::read_dir(std::path::Path::new(dir)) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: cannot read {dir}: {e}");
            std::process::exit(2);
        }
    };
    if rows.is_empty() {
        eprintln!("error: {dir} holds no rows: did the experiments run?");
        std::process::exit(2);
    }
    let machine = machine();
    let md = waitlint_lab::evidence::render(&rows, &machine);
    if let Err(e) = std::fs::write(out, md) {
        eprintln!("error: cannot write {out}: {e}");
        std::process::exit(2);
    }
    println!("{} rows written to {out}", rows.len());
}

/// Kernel release and nginx version, so a reader knows what the numbers come from.
fn machine() -> String {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| format!("Linux {}", s.trim()))
        .unwrap_or_else(|_| "unknown kernel".into());
    let nginx = std::process::Command::new("nginx")
        .arg("-v")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stderr)
                .trim()
                .replace("nginx version: ", "")
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "nginx not found".into());
    format!("{kernel}, {nginx}")
}
