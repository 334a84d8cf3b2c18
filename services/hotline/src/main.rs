//! `hotline`: one binary, a subcommand per service (what each Kubernetes Deployment
//! runs) and `all-in-one`, every service in one process on embedded backends.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod config;
mod run;

/// Hotline, a multi-tenant contact center.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// TOML configuration file; `HOTLINE_…` environment variables override it.
    #[arg(long, short, global = true, env = "HOTLINE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
enum Command {
    /// Every service in one process, on embedded backends by default.
    AllInOne {
        /// Where the database file and objects live (overrides `data_dir`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Create a demo tenant to call and write its details to `<data_dir>/demo.json`.
        #[arg(long)]
        demo: bool,
    },
    /// The SIP edge and media.
    Ingress,
    /// The ACD.
    Routing,
    /// Call recording.
    Recording,
    /// Customer lookup.
    Crm,
    /// KPIs and metrics.
    Analytics,
    /// Tenant onboarding and configuration, the public HTTP API.
    Api,
    /// The Kubernetes controller.
    Operator,
    /// Prints the effective configuration (secrets redacted) and exits.
    CheckConfig,
    /// Prints every setting with its default, as a TOML file to start from.
    DefaultConfig,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command == Command::DefaultConfig {
        return match toml::to_string_pretty(&config::HotlineConfig::default()) {
            Ok(text) => {
                #[allow(clippy::print_stdout)] // printing the file is the command's job
                {
                    print!("{text}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("hotline: cannot render the defaults: {e}");
                ExitCode::FAILURE
            }
        };
    }
    // Configuration is loaded and checked before any runtime, listener or backend exists,
    // so a bad setting fails fast and names itself.
    // HOTLINE_CONFIG names the file (read by clap above); it is not a setting.
    let env = std::env::vars().filter(|(k, _)| k != "HOTLINE_CONFIG");
    let loaded =
        match hotline_runtime::config::load::<config::HotlineConfig>(cli.config.as_deref(), env) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("hotline: configuration error: {e}");
                return ExitCode::from(2);
            }
        };
    let mut cfg = loaded.config.clone();
    if let Command::AllInOne {
        data_dir: Some(dir),
        ..
    } = &cli.command
    {
        cfg.data_dir = dir.display().to_string();
    }
    if run::is_standalone(&cli.command)
        && let Err(e) = cfg.backends().validate_for_standalone("")
    {
        eprintln!("hotline: configuration error: {}", loaded.locate(e));
        return ExitCode::from(2);
    }
    if cli.command == Command::CheckConfig {
        for var in &loaded.unknown_env {
            eprintln!("warning: environment variable {var} names no setting; ignored");
        }
        eprintln!("{cfg:#?}");
        return ExitCode::SUCCESS;
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hotline: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let _telemetry = hotline_runtime::telemetry::init(
            &format!("hotline-{}", run::name(&cli.command)),
            &cfg.telemetry,
        )?;
        for var in &loaded.unknown_env {
            tracing::warn!(variable = %var, "environment variable names no setting; ignored");
        }
        run::run(cli.command, cfg).await
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hotline: {e:#}");
            ExitCode::FAILURE
        }
    }
}
