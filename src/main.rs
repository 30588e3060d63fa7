//! The `netsleuth` binary: parse arguments, run one command, map the outcome to
//! an exit code (0 done, 1 a `--fail-on` threshold met, 2 bad usage or input).

mod cli;

use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use cli::{Cli, Command};
use netsleuth::cmd::{self, CommandError};

fn main() -> ExitCode {
    let cli = Cli::parse_with_positions();
    match run(cli) {
        Ok(Verdict::Done) => ExitCode::SUCCESS,
        Ok(Verdict::ThresholdMet) => ExitCode::from(1),
        // `netsleuth read big.pcap | head` is normal use, not an error.
        Err(CommandError::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "netsleuth: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// How a successful run ends.
enum Verdict {
    /// Exit 0.
    Done,
    /// `--fail-on` reached: exit 1.
    ThresholdMet,
}

fn run(cli: Cli) -> Result<Verdict, CommandError> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    match cli.command {
        Command::Analyze(args) => {
            let (config, fail_on) = args.into_config()?;
            let outcome = cmd::analyze::run(&config, &mut out, &mut io::stderr())?;
            out.flush()?;
            if fail_on.is_some_and(|level| outcome.worst.is_some_and(|w| w >= level)) {
                return Ok(Verdict::ThresholdMet);
            }
        }
        Command::Read(args) => {
            let summary = cmd::read::run(&args.into_config(), &mut out)?;
            if let Some(warning) = summary.input_warning {
                out.flush()?;
                let _ = writeln!(io::stderr(), "netsleuth: warning: {warning}");
            }
        }
        Command::Capture(args) => {
            let stop = install_stop_handler()?;
            cmd::capture::run(&args.into_config()?, stop, &mut out, &mut io::stderr())?;
        }
        Command::Watch(args) => {
            let (config, fail_on) = args.into_config()?;
            let stop = install_stop_handler()?;
            let outcome = cmd::watch::run(&config, stop, &mut out, &mut io::stderr())?;
            out.flush()?;
            if fail_on.is_some_and(|level| outcome.worst.is_some_and(|w| w >= level)) {
                return Ok(Verdict::ThresholdMet);
            }
        }
        Command::Demo(args) => {
            let keep = args.write.is_some();
            let path = args.write.unwrap_or_else(cmd::demo::default_capture_path);
            let result = cmd::demo::run(&path, args.packets, &mut out, &mut io::stderr());
            if !keep {
                let _ = std::fs::remove_file(&path);
            }
            result?;
        }
        #[cfg(feature = "probe")]
        Command::Probe(args) => {
            let (config, fail_on) = args.into_config()?;
            let stop = install_stop_handler()?;
            let outcome = cmd::probe::run(&config, stop, &mut out, &mut io::stderr())?;
            out.flush()?;
            let failed = match fail_on {
                Some(level) => outcome.worst.is_some_and(|w| w >= level),
                None => outcome.failed,
            };
            if failed {
                return Ok(Verdict::ThresholdMet);
            }
        }
        Command::Follow(args) => {
            cmd::follow::run(&args.into_config(), &mut out, &mut io::stderr())?;
        }
        Command::Goroutines(args) => {
            cmd::goroutines::run(&args.into_config()?, &mut out)?;
        }
        Command::Interfaces => {
            cmd::interfaces::run(&mut out)?;
        }
    }
    out.flush()?;
    Ok(Verdict::Done)
}

/// The first SIGINT/SIGTERM asks for a clean stop; a second one exits at once.
fn install_stop_handler() -> Result<Arc<AtomicBool>, CommandError> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register_conditional_shutdown(signal, 130, Arc::clone(&stop))?;
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    Ok(stop)
}
