//! `waitlint explain` and `waitlint rules`: the rule documentation, from the rules themselves.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use serde_json::json;

#[derive(Args)]
pub struct ExplainArgs {
    /// A rule code (NGX001) or name (keepalive-disabled)
    rule: String,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RulesFormat {
    Text,
    Json,
}

#[derive(Args)]
pub struct RulesArgs {
    #[arg(long, value_enum, default_value = "text")]
    format: RulesFormat,
}

pub fn explain(args: &ExplainArgs) -> ExitCode {
    let Some(rule) = lints::registry::find(&args.rule) else {
        eprintln!(
            "waitlint: error: no rule named `{}`: see `waitlint rules`",
            args.rule
        );
        return ExitCode::from(2);
    };
    let mut text = String::new();
    let _ = writeln!(text, "# {} ({})\n", rule.name, rule.code);
    let _ = writeln!(
        text,
        "Default severity: {}. Family: {}.{}\n",
        rule.default_severity.as_str(),
        rule.family.as_str(),
        if rule.fixable { " Has a fix." } else { "" }
    );
    let _ = writeln!(text, "{}\n", rule.summary);
    text.push_str(&rule.documentation());
    if !rule.options.is_empty() {
        let _ = writeln!(
            text,
            "\n## Options (in waitlint.toml, under [rules.{}])",
            rule.name
        );
        for o in rule.options {
            let _ = writeln!(
                text,
                "- `{}` ({}, default `{}`): {}",
                o.name,
                o.kind.as_str(),
                o.default,
                o.doc
            );
        }
    }
    emit(&text)
}

/// Writes to stdout; a closed pipe (`waitlint explain X | head`) is not an error.
fn emit(text: &str) -> ExitCode {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            eprintln!("waitlint: error: cannot write output: {e}");
            ExitCode::from(2)
        }
        _ => ExitCode::SUCCESS,
    }
}

pub fn rules(args: &RulesArgs) -> ExitCode {
    let rules = lints::registry::all();
    let mut text = String::new();
    match args.format {
        RulesFormat::Text => {
            for r in rules {
                let _ = writeln!(
                    text,
                    "{:<7} {:<32} {:<8} {}",
                    r.code,
                    r.name,
                    r.default_severity.as_str(),
                    r.summary
                );
            }
        }
        RulesFormat::Json => {
            let list: Vec<_> = rules
                .iter()
                .map(|r| {
                    json!({
                        "code": r.code,
                        "name": r.name,
                        "family": r.family.as_str(),
                        "severity": r.default_severity.as_str(),
                        "summary": r.summary,
                        "fixable": r.fixable,
                        "options": r.options.iter().map(|o| json!({
                            "name": o.name,
                            "kind": o.kind.as_str(),
                            "default": o.default,
                            "doc": o.doc,
                        })).collect::<Vec<_>>(),
                        "documentation": r.documentation(),
                    })
                })
                .collect();
            text = serde_json::to_string_pretty(&list).expect("rule list serializes");
            text.push('\n');
        }
    }
    emit(&text)
}
