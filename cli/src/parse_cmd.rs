//! `waitlint parse`: the parser's view of a file, as waitlint's AST or in crossplane's shape.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use nginx_parser::crossplane::{self, CrossplaneOptions, FilePayload};

#[derive(Clone, Copy, ValueEnum)]
pub enum ParseFormat {
    /// waitlint's own tree with byte spans on every directive, word, brace and comment
    Json,
    /// crossplane's JSON shape (status, errors, config[].parsed[])
    Crossplane,
}

#[derive(Args)]
pub struct ParseArgs {
    /// The configuration file
    file: PathBuf,
    #[arg(long, value_enum, default_value = "json")]
    format: ParseFormat,
    /// Do not follow include directives
    #[arg(long)]
    single_file: bool,
    /// Print comments as "#" entries (crossplane format; the json format always has them)
    #[arg(long)]
    include_comments: bool,
}

pub fn run(args: &ParseArgs) -> ExitCode {
    let source = match std::fs::read(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("waitlint: cannot read {}: {e}", args.file.display());
            return ExitCode::from(2);
        }
    };
    let name = args.file.to_string_lossy();
    let parse = nginx_parser::parse(&source);
    let value = match args.format {
        ParseFormat::Json => crossplane::ast_json(&name, &source, &parse),
        ParseFormat::Crossplane => crossplane::document(
            &[FilePayload {
                file: &name,
                source: &source,
                parse: &parse,
                extra_errors: &[],
            }],
            &CrossplaneOptions {
                include_comments: args.include_comments,
                includes: None,
            },
        ),
    };
    let mut out = std::io::stdout().lock();
    let written = serde_json::to_writer_pretty(&mut out, &value)
        .map_err(std::io::Error::from)
        .and_then(|()| writeln!(out));
    if let Err(e) = written {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("waitlint: cannot write output: {e}");
            return ExitCode::from(2);
        }
    }
    if parse.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
