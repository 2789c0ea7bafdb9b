//! The `markroom` command line: one binary for serving and for every operator task.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use markroom::config::{LogFormat, Settings};
use markroom::db::Db;
use markroom::demo::DemoOptions;
use markroom::domain::role::Role;
use markroom::http::Application;

/// `markroom --version`: the release and the commit it was built from (see build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("BUILD_GIT_COMMIT"), ")");

#[derive(Parser)]
#[command(name = "markroom", version = VERSION, about = "The closed marking room of an exam")]
struct Cli {
    /// Data directory (SQLite file, token key, audit anchors). Also MARKROOM_DATA_DIR.
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate, then serve HTTP.
    Serve {
        /// Address to listen on. Also MARKROOM_BIND.
        #[arg(long)]
        bind: Option<String>,
        /// Make the demo exam first (as `markroom demo`) and write its accounts to
        /// `demo-accounts.json` in the data directory.
        #[arg(long)]
        demo: bool,
    },
    /// Make the ready demo exam DEMO (window open now, room open) through the API of a
    /// markroom started in this process; print its accounts.
    Demo {
        #[arg(long, default_value_t = 60)]
        candidates: usize,
        #[arg(long, default_value_t = 12)]
        markers: usize,
        /// Resolution of the generated sheets.
        #[arg(long, default_value_t = 100)]
        dpi: u32,
        /// Write the accounts, candidates and latent scores as JSON (mode 0600).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Administrator accounts.
    Admin {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// The first two chief leaders (later leaders are activated by two-person approval).
    Leader {
        #[command(subcommand)]
        action: AccountAction,
    },
    /// Workstations (the first key, made on the server itself).
    Workstation {
        #[command(subcommand)]
        action: WorkstationAction,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// A consistent copy of the data directory while the server runs, as one .tar.gz: the
    /// anchors, the keys, a snapshot of the SQLite database, then the local image store. On
    /// PostgreSQL the database is not in it: dump it with pg_dump after this.
    Backup {
        /// The archive to write; an existing file is refused.
        #[arg(long)]
        output: PathBuf,
    },
    /// Unpack a backup into --data-dir (required), which must be missing or empty.
    Restore {
        /// The archive `markroom backup` wrote.
        #[arg(long)]
        input: PathBuf,
    },
    /// Question statistics from a CSV of marks (script_id,marker_id,score and optional seq):
    /// agreement, ICC, Krippendorff's alpha, Fleiss' kappa, the additive model and each marker's
    /// figures and flags, as JSON on standard output.
    Stats {
        /// The CSV of live marks.
        #[arg(long)]
        input: PathBuf,
        /// The question's maximum. Without it: the highest score in the file (said on stderr).
        #[arg(long, value_parser = markroom::stats_command::parse_score_arg)]
        max_score: Option<markroom::domain::Score>,
        /// The question's step. Without it: 1 (said on stderr).
        #[arg(long, value_parser = markroom::stats_command::parse_score_arg)]
        step: Option<markroom::domain::Score>,
        /// The question's tolerance. Without it: 10% of the maximum, rounded to the step.
        #[arg(long, value_parser = markroom::stats_command::parse_score_arg)]
        tolerance: Option<markroom::domain::Score>,
        /// Write the JSON here instead of standard output.
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        action: BenchAction,
    },
    /// Synthetic markers against a running server, through its API alone: load, latency and
    /// how the statistics caught the severe, lenient and drifting markers planted among them.
    /// Severity is counted in severity limits (severity_limit_fraction × tolerance), noise in
    /// tolerances.
    Simulate {
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// The demo's accounts file (`markroom demo --output`); default: demo-accounts.json in the
        /// data directory, which `serve --demo` writes.
        #[arg(long)]
        accounts: Option<PathBuf>,
        /// Simulated markers (the first N of the file's).
        #[arg(long, default_value_t = 12)]
        markers: usize,
        /// Seconds of marking.
        #[arg(long, default_value_t = 60)]
        duration: u64,
        /// Seconds of the image phase after it.
        #[arg(long, default_value_t = 10)]
        image_seconds: u64,
        /// SD of ordinary markers' severity, in severity limits (clipped to ±0.8).
        #[arg(long, default_value_t = 0.2)]
        severity_spread: f64,
        /// SD of each mark's noise, in tolerances.
        #[arg(long, default_value_t = 0.25)]
        noise: f64,
        /// Planted severe markers (two limits low).
        #[arg(long, default_value_t = 2)]
        severe: usize,
        /// Planted lenient markers (two limits high).
        #[arg(long, default_value_t = 2)]
        lenient: usize,
        /// Planted drifting markers (from 0 to 2.5 limits high over the run).
        #[arg(long, default_value_t = 0)]
        drifters: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Every marker takes any question. By default markers work in question groups, as a
        /// marking room assigns them (in proportion to the marks each question needs, at least
        /// five a group; with fewer markers than that, every marker takes any question).
        #[arg(long)]
        mixed_questions: bool,
        /// Also write the report as JSON here.
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum BenchAction {
    /// Pages per second of the image pipeline (decode, anchor, turn, mask, cut, encode, store)
    /// on generated A4 grey pages, half of them upside down, across the cores; prints JSON.
    Ingest {
        #[arg(long, default_value_t = 200)]
        pages: u32,
        #[arg(long, default_value_t = 200)]
        dpi: u32,
    },
}

#[derive(Subcommand)]
enum AccountAction {
    /// Create an account for one person; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        /// The person's full name.
        #[arg(long)]
        full_name: String,
        /// The person's identity-document number (stored only as a keyed hash).
        #[arg(long)]
        id_document: String,
    },
}

#[derive(Subcommand)]
enum WorkstationAction {
    /// Register a workstation and print its key, once.
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Check every link of every chain and every anchor; exit 1 naming the first mismatch.
    Verify,
}

fn main() -> ExitCode {
    // Before any thread starts: the allocator's settings are process-wide.
    markroom::memory::return_freed_memory();
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("markroom: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // Statistics read a file and nothing else: no settings, no database.
    if let Command::Stats {
        input,
        max_score,
        step,
        tolerance,
        output,
    } = cli.command
    {
        markroom::stats_command::run(&markroom::stats_command::StatsArgs {
            input,
            max_score,
            step,
            tolerance,
            output,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    // A restore reads an archive and writes a directory: no settings, no database. The target is
    // named on the command line, never taken from the environment or a settings file.
    if let Command::Restore { input } = &cli.command {
        let Some(dir) = &cli.data_dir else {
            anyhow::bail!("restore needs --data-dir: the data directory to restore into (missing or empty)");
        };
        print!("{}", markroom::backup::restore(input, dir)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut settings = Settings::load()?;
    init_logs(settings.log.format);
    if let Some(dir) = cli.data_dir {
        settings.data_dir = dir;
    }
    match cli.command {
        Command::Serve { bind, demo } => {
            if let Some(bind) = bind {
                settings.bind = bind;
            }
            let demo = demo.then_some(DemoOptions {
                candidates: 60,
                markers: 12,
                dpi: 100,
            });
            serve(settings, demo)?;
        }
        Command::Demo {
            candidates,
            markers,
            dpi,
            output,
        } => {
            let opts = DemoOptions {
                candidates,
                markers,
                dpi,
            };
            settings.bind = "127.0.0.1:0".into();
            actix_web::rt::System::new().block_on(async move {
                let app = Application::build(settings.clone()).await?;
                let port = app.port();
                let server = actix_web::rt::spawn(app.run_until_stopped());
                let result = run_demo(&settings, port, &opts, output.as_deref(), true).await;
                server.abort();
                result
            })?;
        }
        Command::Migrate => {
            let db = Db::connect(&settings)?;
            let applied = db.migrate()?;
            println!("{} migration(s) applied", applied.len());
        }
        Command::Admin { action } => create_account(&settings, action, Role::Admin)?,
        Command::Leader { action } => create_account(&settings, action, Role::Leader)?,
        Command::Workstation {
            action: WorkstationAction::Create { name },
        } => {
            let db = Db::connect(&settings)?;
            db.migrate()?;
            let (id, key) = markroom::bootstrap::create_workstation(&db, &name)?;
            println!("created workstation {name} ({id})");
            println!("key (shown once; enter it at the workstation): {key}");
        }
        Command::Audit {
            action: AuditAction::Verify,
        } => return audit_verify(&settings),
        Command::Bench {
            action: BenchAction::Ingest { pages, dpi },
        } => {
            let report = markroom::scans::bench::ingest(pages, dpi)?;
            println!("{}", serde_json::to_string(&report)?);
        }
        Command::Simulate {
            server,
            accounts,
            markers,
            duration,
            image_seconds,
            severity_spread,
            noise,
            severe,
            lenient,
            drifters,
            seed,
            mixed_questions,
            output,
        } => {
            let opts = markroom::simulate::Options {
                server,
                accounts: accounts.unwrap_or_else(|| settings.data_dir.join("demo-accounts.json")),
                markers,
                duration: std::time::Duration::from_secs(duration),
                image_seconds: std::time::Duration::from_secs(image_seconds),
                severity_spread,
                noise,
                severe,
                lenient,
                drifters,
                seed,
                progress: true,
                mixed_questions,
            };
            let report = actix_web::rt::System::new().block_on(markroom::simulate::run(&opts))?;
            print!("{report}");
            if let Some(path) = output {
                std::fs::write(&path, serde_json::to_vec_pretty(&report)?)?;
                println!("written to {}", path.display());
            }
        }
        Command::Backup { output } => print!("{}", markroom::backup::backup(&settings, &output)?),
        // Answered above, before the settings are read.
        Command::Stats { .. } | Command::Restore { .. } => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn serve(settings: Settings, demo: Option<DemoOptions>) -> anyhow::Result<()> {
    actix_web::rt::System::new().block_on(async move {
        let bind = settings.bind.clone();
        let backend = if settings.postgres_url().is_some() {
            "postgresql"
        } else {
            "sqlite"
        };
        let app = Application::build(settings.clone()).await?;
        let port = app.port();
        let allocator_lines_fixed = markroom::memory::lines_fixed();
        tracing::info!(%bind, port, backend, allocator_lines_fixed, "markroom serving");
        let server = actix_web::rt::spawn(app.run_until_signal());
        if let Some(opts) = demo {
            let file = settings.data_dir.join("demo-accounts.json");
            // A server's output is its log, which others collect and read: the accounts go to
            // the file alone (mode 0600), never to the log.
            run_demo(&settings, port, &opts, Some(&file), false).await?;
        }
        server.await??;
        Ok(())
    })
}

/// Logs to standard error: `MARKROOM_LOG` filters (default `info`), `log.format` chooses text
/// or JSON lines. Text is coloured only on a terminal: a log file or a journal gets plain lines.
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("MARKROOM_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().flatten_event(true).with_current_span(false).init(),
        LogFormat::Text => logs.init(),
    }
}

/// The demo against the server on `port` of this process; prints the accounts when asked.
async fn run_demo(
    settings: &Settings,
    port: u16,
    opts: &DemoOptions,
    output: Option<&std::path::Path>,
    print_accounts: bool,
) -> anyhow::Result<()> {
    let db = Db::connect(settings)?;
    let keys = markroom::demo::prepare(settings, &db, opts)?;
    let base = format!("http://127.0.0.1:{port}");
    let file = markroom::demo::drive(&base, &db, &settings.data_dir, &keys, opts).await?;
    let a = &file.accounts;
    println!("The demo exam {} is open for marking at {base}.", file.exam);
    let listed = [
        ("admin", &a.admin),
        ("chief leader", &a.chief_leaders),
        ("custodian", &a.custodians),
        ("marker", &a.markers),
    ];
    for (role, list) in listed.into_iter().filter(|_| print_accounts) {
        for acc in list {
            println!(
                "  {role:13} {:16} password {}  workstation key {}",
                acc.username, acc.password, acc.workstation_key
            );
        }
    }
    println!(
        "In a browser on the server: /mark for a marker, /lead for a chief leader, /custody for a \
         custodian (sign in with a username, password and workstation key of the accounts), \
         /report?exam={} for the marking report.",
        file.exam
    );
    if let Some(path) = output {
        markroom::demo::write(&file, path)?;
        if print_accounts {
            println!("written to {}", path.display());
        } else {
            println!("The accounts are in {} (yours alone to read).", path.display());
        }
    }
    Ok(())
}

/// From the terminal without echo, or the first line of standard input when it is piped.
fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return rpassword::prompt_password("password: ").context("reading the password from the terminal");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

/// `admin create` makes an active admin; `leader create` an active chief leader, but only
/// while fewer than two chief leaders exist: after that, leaders need two-person approval.
fn create_account(settings: &Settings, action: AccountAction, role: Role) -> anyhow::Result<()> {
    let AccountAction::Create {
        username,
        full_name,
        id_document,
    } = action;
    let password = read_password()?;
    let db = Db::connect(settings)?;
    db.migrate()?;
    let key = markroom::secrets::identity_key(settings.auth.identity_key.as_deref(), &settings.data_dir)?;
    let account = markroom::bootstrap::BootstrapAccount {
        username: &username,
        password: &password,
        full_name: &full_name,
        id_document: &id_document,
        role,
    };
    let id = markroom::bootstrap::create_account(&db, &key, &account)?;
    println!(
        "created {} {username} ({id})",
        if role == Role::Leader { "chief leader" } else { "admin" }
    );
    Ok(())
}

fn audit_verify(settings: &Settings) -> anyhow::Result<ExitCode> {
    let db = Db::connect(settings)?;
    let anchor_path = settings.anchor_path();
    let report = markroom::audit::verify(&db, &anchor_path)?;
    match &report.problem {
        None => println!(
            "audit log intact: {} chains, {} entries, {} anchors checked, {} not yet sealed",
            report.chains, report.entries, report.anchors, report.unsealed
        ),
        Some(problem) => println!("audit log BROKEN: {problem}"),
    }
    if !report.anchor_file_found {
        println!(
            "no anchor file yet at {}: the chain was checked only against itself",
            anchor_path.display()
        );
    }
    Ok(if report.problem.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
