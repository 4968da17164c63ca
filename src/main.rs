//! The `relucert` binary: the command line over the `relucert` library.
//!
//! Built with the `cli` feature (on by default); the library itself has no command-line
//! code and does not depend on clap or indicatif. The subcommands live in `src/cli/`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
