//! `waitlint explain` and `waitlint rules`: the rule documentation, from the rules themselves.

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
    println!("# {} ({})\n", rule.name, rule.code);
    println!(
        "Default severity: {}. Family: {}.{}\n",
        rule.default_severity.as_str(),
        rule.family.as_str(),
        if rule.fixable { " Has a fix." } else { "" }
    );
    println!("{}", rule.summary);
    println!();
    print!("{}", rule.documentation());
    if !rule.options.is_empty() {
        println!("\n## Options (in waitlint.toml, under [rules.{}])", rule.name);
        for o in rule.options {
            println!("- `{}` ({}, default `{}`): {}", o.name, o.kind.as_str(), o.default, o.doc);
        }
    }
    ExitCode::SUCCESS
}

pub fn rules(args: &RulesArgs) -> ExitCode {
    let rules = lints::registry::all();
    match args.format {
        RulesFormat::Text => {
            for r in rules {
                println!(
                    "{:<7} {:<28} {:<8} {}",
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
            println!(
                "{}",
                serde_json::to_string_pretty(&list).expect("rule list serializes")
            );
        }
    }
    ExitCode::SUCCESS
}
