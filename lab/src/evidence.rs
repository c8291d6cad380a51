//! The record behind `docs/evidence.md`. Each experiment calls [`record`] with what it measured;
//! when `WAITLINT_EVIDENCE_DIR` is set (by `scripts/evidence`) the row is written there as JSON,
//! and `cargo run -p waitlint-lab --bin evidence-table` turns the directory into the table.
//! Without the variable, recording does nothing, so an ordinary test run writes no files.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// One experiment's outcome, for the bad case (what the rule flags) and the fixed case.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Row {
    /// `CODE/name`, e.g. `NGX001/keepalive-disabled`.
    pub rule: String,
    /// What was run, in a sentence: the servers, clients and counts.
    pub experiment: String,
    /// What was measured with the flagged input.
    pub bad: String,
    /// What was measured with the fixed input (or the look-alike the rule stays silent on).
    pub fixed: String,
    /// The fixture files, relative to the repository root.
    pub fixtures: Vec<String>,
}

pub const DIR_VAR: &str = "WAITLINT_EVIDENCE_DIR";

/// Writes `row` to `$WAITLINT_EVIDENCE_DIR/<id>.json` when the variable is set.
pub fn record(id: &str, row: &Row) {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let path = Path::new(&dir).join(format!("{id}.json"));
    let json = serde_json::to_string_pretty(row).expect("a Row always serialises");
    if let Err(e) = std::fs::write(&path, json) {
        panic!("cannot write evidence to {}: {e}", path.display());
    }
}

/// Reads every row of a directory written by [`record`], ordered by rule then id.
pub fn read_dir(dir: &Path) -> std::io::Result<Vec<(String, Row)>> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path)?;
            let row: Row = serde_json::from_str(&text).map_err(|e| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })?;
            let id = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            rows.push((id, row));
        }
    }
    rows.sort_by(|a, b| (&a.1.rule, &a.0).cmp(&(&b.1.rule, &b.0)));
    Ok(rows)
}

/// Renders the rows as the Markdown of `docs/evidence.md`.
pub fn render(rows: &[(String, Row)], machine: &str) -> String {
    let mut out = String::from(
        "# Evidence\n\n\
         Each rule's explanation is a claim about what the kernel does. These are the experiments \
         that check them, run by the lab (`lab/tests/`) against real nginx and real Rust servers \
         on loopback; TCP states are counted from `/proc/net/tcp` and `/proc/net/tcp6`, split into \
         the server's sockets (local port = server port) and the clients' (remote port = server \
         port).\n\n\
         Regenerate this file with `scripts/evidence` (it needs nginx: `apt-get install -y \
         nginx-light`). The same experiments run in CI as ignored tests (`.ci/run`), where they \
         assert what the table shows.\n\n",
    );
    out.push_str(&format!("Measured on: {machine}\n\n"));
    out.push_str("| Rule | Experiment | Flagged case | Fixed case | Fixtures |\n");
    out.push_str("|---|---|---|---|---|\n");
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    for (_, row) in rows {
        let fixtures: Vec<String> = row.fixtures.iter().map(|f| format!("`{f}`")).collect();
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} |\n",
            cell(&row.rule),
            cell(&row.experiment),
            cell(&row.bad),
            cell(&row.fixed),
            fixtures.join("<br>"),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_through_a_directory_and_render_in_rule_order() {
        let dir = tempfile::tempdir().unwrap();
        let row = |rule: &str| Row {
            rule: rule.into(),
            experiment: "100 one-request connections".into(),
            bad: "server TIME_WAIT 100 | client 0".into(),
            fixed: "server 0".into(),
            fixtures: vec!["fixtures/nginx/a/fires.conf".into()],
        };
        for (id, rule) in [("b", "NGX002/x"), ("a", "NGX001/y")] {
            let json = serde_json::to_string(&row(rule)).unwrap();
            std::fs::write(dir.path().join(format!("{id}.json")), json).unwrap();
        }
        let rows = read_dir(dir.path()).unwrap();
        assert_eq!(rows[0].1.rule, "NGX001/y");
        let md = render(&rows, "test machine");
        let table: Vec<&str> = md.lines().filter(|l| l.starts_with("| NGX")).collect();
        assert_eq!(table.len(), 2);
        assert!(
            table[0].contains("server TIME_WAIT 100 \\| client 0"),
            "{}",
            table[0]
        );
    }
}
