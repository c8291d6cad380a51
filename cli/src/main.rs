//! The `waitlint` command line.

mod parse_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "waitlint",
    version,
    about = "Finds the configuration and code that pile up TCP connections in TIME_WAIT and CLOSE_WAIT"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Parse one nginx configuration and print its tree (a syntax parse: fragments are fine)
    Parse(parse_cmd::ParseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Parse(args) => parse_cmd::run(&args),
    }
}
