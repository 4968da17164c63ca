//! The `relucert` binary: everything is in the library's `cli` module.

fn main() -> std::process::ExitCode {
    relucert::cli::main()
}
