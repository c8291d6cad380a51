//! `waitlint parse`: the parser's view of a configuration, as waitlint's AST or in crossplane's
//! shape, for one file or for a main file and everything it includes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use nginx_parser::crossplane::{self, CrossplaneOptions, FilePayload};
use nginx_parser::{ConfigTree, IncludeOptions, Parse, ParseOptions, Reading, SourceFile};
use serde_json::{json, Value};

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
    /// Directory that relative include paths resolve against (default: the file's directory)
    #[arg(long, value_name = "DIR")]
    include_base: Option<PathBuf>,
}

/// Exit status: 0 parsed cleanly, 1 syntax or include errors, 2 the file could not be read.
pub fn run(args: &ParseArgs) -> ExitCode {
    // The crossplane format is for crossplane's consumers: its tree is crossplane's reading.
    let parse_options = ParseOptions {
        reading: match args.format {
            ParseFormat::Json => Reading::Nginx,
            ParseFormat::Crossplane => Reading::Crossplane,
        },
        ..ParseOptions::default()
    };
    let tree = if args.single_file {
        match std::fs::read(&args.file) {
            Ok(text) => {
                let parse = nginx_parser::parse_with(&text, &parse_options);
                ConfigTree {
                    files: vec![SourceFile {
                        path: args.file.clone(),
                        text,
                        parse,
                    }],
                    includes: Default::default(),
                    errors: Vec::new(),
                }
            }
            Err(e) => {
                eprintln!("waitlint: cannot read {}: {e}", args.file.display());
                return ExitCode::from(2);
            }
        }
    } else {
        let options = IncludeOptions {
            base_dir: args.include_base.clone(),
            parse: parse_options,
            ..IncludeOptions::default()
        };
        match nginx_parser::load(&args.file, &options) {
            Ok(tree) => tree,
            Err(e) => {
                eprintln!("waitlint: {e}");
                return ExitCode::from(2);
            }
        }
    };
    let names: Vec<String> = tree
        .files
        .iter()
        .map(|f| f.path.to_string_lossy().into_owned())
        .collect();
    let value = match args.format {
        ParseFormat::Json => own_json(&tree, &names, args.single_file),
        ParseFormat::Crossplane => crossplane_json(&tree, &names, args),
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
    let clean = tree.errors.is_empty() && tree.files.iter().all(|f| f.parse.is_ok());
    if clean {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn own_json(tree: &ConfigTree, names: &[String], single: bool) -> Value {
    let files: Vec<Value> = tree
        .files
        .iter()
        .zip(names)
        .map(|(f, name)| crossplane::ast_json(name, &f.text, &f.parse))
        .collect();
    if single {
        return files.into_iter().next().unwrap_or(Value::Null);
    }
    let mut includes: Vec<_> = tree.includes.iter().collect();
    includes.sort_by_key(|((file, span), _)| (*file, span.start));
    json!({
        "files": files,
        "includes": includes
            .into_iter()
            .map(|((file, span), targets)| json!({ "file": file, "span": [span.start, span.end], "targets": targets }))
            .collect::<Vec<_>>(),
        "include_errors": tree
            .errors
            .iter()
            .map(|e| json!({ "file": e.file, "span": [e.span.start, e.span.end], "kind": format!("{:?}", e.kind), "message": e.message }))
            .collect::<Vec<_>>(),
    })
}

fn crossplane_json(tree: &ConfigTree, names: &[String], args: &ParseArgs) -> Value {
    let payloads: Vec<FilePayload<'_>> = tree
        .files
        .iter()
        .enumerate()
        .map(|(id, f)| FilePayload {
            file: &names[id],
            source: &f.text,
            parse: &f.parse as &Parse,
            extra_errors: tree
                .errors
                .iter()
                .filter(|e| e.file == id)
                .map(|e| (e.span, e.message.clone()))
                .collect(),
        })
        .collect();
    let includes_of = |file: usize, d: &nginx_parser::Directive| {
        tree.includes
            .get(&(file, d.span))
            .cloned()
            .unwrap_or_default()
    };
    crossplane::document(
        &payloads,
        &CrossplaneOptions {
            include_comments: args.include_comments,
            includes: if args.single_file {
                None
            } else {
                Some(&includes_of)
            },
        },
    )
}
