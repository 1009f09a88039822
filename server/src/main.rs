//! `qcall`: the queue-calling server and its tools.

use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use qcall_server::config::Config;

#[derive(Parser)]
#[command(name = "qcall", version, about = "Queue-calling system for tax service halls (排队叫号系统)")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum HallCmd {
    /// The core takes over a hall whose own server (hall edge) died, numbering each service
    /// --skip above the last number it holds of the edge's, and taking the tickets that wait.
    /// Only when that server is down for good: it is refused by the core from then on, and is
    /// brought back by restoring it from the core's copy (see the README).
    Takeover {
        /// The hall's id (east, west, central).
        hall: String,
        /// Numbers left unused above the last one forwarded (those the edge may have printed
        /// and never forwarded).
        #[arg(long)]
        skip: u32,
        /// The core.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        server: String,
        /// A file holding a supervisor's token (else the QCALL_TOKEN environment variable).
        #[arg(long)]
        token_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum Cmd {
    /// Run the server (HTTP API, event streams, web pages).
    Serve {
        /// Config file; without it the embedded demo config (three halls) is used.
        #[arg(long)]
        config: Option<PathBuf>,
        /// SQLite database file (overrides the config).
        #[arg(long)]
        db: Option<PathBuf>,
        /// Address to listen on, e.g. 127.0.0.1:8080 (overrides the config).
        #[arg(long)]
        listen: Option<String>,
        /// Tests and demos: start the server's clock at this time (RFC 3339, e.g.
        /// 2026-12-01T09:40:00+08:00) and let it run on at normal speed from there. A time
        /// before the database's last event is refused.
        #[arg(long, value_name = "TIME")]
        clock_start: Option<String>,
        /// Log lines as text (default) or as one JSON object each (journald, log collectors).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Validate a config file and print a summary.
    CheckConfig {
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Make a new random device or supervisor token and the hash to put in the config.
    Token,
    /// A hall run by its own server (a hall edge).
    Hall {
        #[command(subcommand)]
        cmd: HallCmd,
    },
    /// Measure ticket rate, group commit, fan-out latency, memory and cold start on loopback.
    Bench {
        /// Seconds per measurement.
        #[arg(long, default_value_t = 10)]
        duration: u64,
        /// Tickets in the database for the memory and cold-start measurement.
        #[arg(long, default_value_t = 100_000)]
        size_tickets: u64,
        /// Every measurement, briefly: 8 clients only, no estimator comparison.
        #[arg(long)]
        quick: bool,
        /// Issuing at 32 clients on SQLite, on PostgreSQL and on PostgreSQL with a synchronous
        /// standby (PostgreSQL servers of its own on loopback; needs PostgreSQL installed).
        #[arg(long)]
        postgres: bool,
    },
    /// The benchmark's HTTP floor: the server stack answering a fixed ticket.
    #[command(hide = true)]
    ServeFloor {
        #[arg(long)]
        listen: String,
    },
    /// Simulate whole days through the real domain (no server, no waiting) and compare the wait
    /// estimators against the real waits.
    Simulate {
        /// Config file (halls, services, counters, hours); without it the embedded demo config.
        #[arg(long)]
        config: Option<PathBuf>,
        /// The day's profile, e.g. config/profiles/ordinary-day.toml.
        #[arg(long)]
        profile: PathBuf,
        #[arg(long, default_value_t = 1)]
        days: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The first day (YYYY-MM-DD; later days are the following working days).
        #[arg(long, default_value = "2026-12-01")]
        first_day: String,
        /// JSON: the report; its last line holds the estimator figures.
        #[arg(long)]
        json: bool,
        /// Staffing advice: per hall and hour, the fewest counters open that keep the p90 wait
        /// under --target-p90-wait minutes.
        #[arg(long)]
        staff: bool,
        #[arg(long, default_value_t = 20.0, requires = "staff")]
        target_p90_wait: f64,
        /// Also run every command through the real engine into a new SQLite database here,
        /// reloading it and comparing with memory every --restart-every commands.
        #[arg(long, value_name = "PATH")]
        store: Option<PathBuf>,
        #[arg(long, default_value_t = 1000, requires = "store")]
        restart_every: u64,
        /// How close any estimate could come: fork the day at every ticket's issue this many
        /// times, draw the rest of it anew from the profile, and report the best any estimate
        /// could do on the ticket's waits (slow: minutes on a busy profile).
        #[arg(long, value_name = "FORKS", default_value_t = 0)]
        bound: u32,
        /// Also the forked estimate, as the server makes it: at each issue (and 10 minutes
        /// later) the hall forked `[estimates] forks` times from what the server knows (learnt
        /// service times and their spread, the arrivals expected, later appointments), the
        /// ticket told a quantile of its waits and the config's `range_percent` as its range.
        #[arg(long)]
        forked: bool,
        /// The quantile of a ticket's waits in the forks that it is told.
        #[arg(long, default_value_t = 0.6, requires = "forked")]
        fork_quantile: f64,
        /// The estimates know when taxpayers come by time of day, as if learnt from many
        /// earlier days of the profile.
        #[arg(long)]
        learnt_arrivals: bool,
    },
    /// Hash a clerk PIN for the config (reads the PIN from stdin, or takes it as argument).
    HashPin { pin: Option<String> },
    /// Copy the database as of one moment while the server keeps serving.
    Backup {
        /// The database (default: the config's `db`).
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
        /// The backup file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Put a backup in place of the database (refused while a server has it open).
    Restore {
        #[arg(long)]
        from: PathBuf,
        /// The database (default: the config's `db`).
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Forget the personal data of days before DATE: who served each ticket, and bookings'
    /// names, ID and phone numbers (their counts stay). The server does this daily by itself
    /// with `[privacy] retention_days` and `[appointments] retention_days`.
    Purge {
        /// The first day to keep (YYYY-MM-DD); at most today.
        #[arg(long)]
        before: String,
        /// The database (default: the config's `db`).
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Check a database or a backup: SQLite's integrity check and the domain's invariants.
    CheckDb {
        /// The database (default: the config's `db`).
        #[arg(long)]
        db: Option<PathBuf>,
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Hash a supervisor's password for the config (reads it from stdin, or takes it as argument).
    HashPassword { password: Option<String> },
}

/// The SQLite database `what` works on: `--db`, else the config's `db`. A config whose store
/// is PostgreSQL is refused with the tool to use instead.
fn db_path(db: Option<PathBuf>, config: Option<&PathBuf>, what: &str) -> anyhow::Result<PathBuf> {
    if let Some(d) = db {
        return Ok(d);
    }
    let cfg = load_config(config)?;
    if let Some(pg) = &cfg.postgres {
        anyhow::bail!(
            "qcall {what} is for SQLite databases; {} keeps the bureau's database in PostgreSQL ({}). \
             Use PostgreSQL's own tools: pg_dump for a copy (pg_restore to put it back), pgBackRest or \
             pg_basebackup with WAL archiving for continuous backups",
            cfg.source,
            pg.shown()
        );
    }
    Ok(cfg.db)
}

/// Prints the config line with the argon2 hash of `secret` (read from stdin when not given),
/// which must have at least `min` characters (`why` says so, `{}` standing for `min`).
fn print_hash(secret: Option<String>, prompt: &str, min: usize, why: &str, key: &str) -> anyhow::Result<()> {
    let secret = match secret {
        Some(s) => s,
        None => read_secret(prompt)?,
    };
    if secret.chars().count() < min {
        anyhow::bail!("{}", why.replace("{}", &min.to_string()));
    }
    let hash = qcall_server::secret::hash_pin(&secret).map_err(|e| anyhow::anyhow!("hashing failed: {e}"))?;
    println!("{key} = \"{hash}\"");
    Ok(())
}

/// One line from stdin, with a prompt when it is a terminal.
fn read_secret(prompt: &str) -> anyhow::Result<String> {
    if std::io::stdin().is_terminal() {
        eprint!("{prompt}: ");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

fn load_config(path: Option<&PathBuf>) -> anyhow::Result<Config> {
    Ok(match path {
        Some(p) => Config::load(p)?,
        None => Config::embedded()?,
    })
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Simulate { config, profile, days, seed, first_day, json, staff, target_p90_wait, store, restart_every, bound, forked, fork_quantile, learnt_arrivals } => {
            let cfg = load_config(config.as_ref())?;
            let first_day = chrono::NaiveDate::parse_from_str(&first_day, "%Y-%m-%d")
                .with_context(|| format!("--first-day: {first_day:?} is not a date YYYY-MM-DD"))?;
            anyhow::ensure!((1..=366).contains(&days), "--days: {days} is not between 1 and 366");
            let profile = qcall_server::sim_store::load_profile(&profile, &cfg.topology)?;
            anyhow::ensure!((0.0..=1.0).contains(&fork_quantile), "--fork-quantile: {fork_quantile} is not between 0 and 1");
            let setup = qcall_server::sim::Setup { profile, days, seed, first_day, counters_per_hall: None, forks: bound, forked, fork_quantile, learnt_arrivals, what_ifs: false };
            if staff {
                print!("{}", qcall_server::sim::staffing::advice(&cfg.topology, &setup, target_p90_wait * 60_000.0).text());
                return Ok(());
            }
            let started = std::time::Instant::now();
            let outcome = match &store {
                None => qcall_server::sim::run(&cfg.topology, &setup),
                Some(path) => {
                    let start = cfg.topology.day_start(first_day);
                    let mut mirror = qcall_server::sim_store::StoreMirror::create(path, cfg.topology.clone(), restart_every, start)?;
                    let outcome = qcall_server::sim::run_with(&cfg.topology, &setup, Some(&mut mirror)).map_err(|e| anyhow::anyhow!("store run: {e}"))?;
                    eprintln!(
                        "store run: {} commands through the engine into {}, {} restarts, every loaded state equal to memory",
                        mirror.commands,
                        path.display(),
                        mirror.restarts
                    );
                    outcome
                }
            };
            let report = qcall_server::sim::Report::new(&cfg.topology, &setup, &outcome);
            let elapsed = started.elapsed();
            if json {
                println!("{}", serde_json::to_string(&report)?);
                println!("{}", serde_json::to_string(&report.estimators)?);
            } else {
                print!("{}", report.text());
                println!("\nsimulated in {:.2} s", elapsed.as_secs_f64());
            }
            Ok(())
        }
        Cmd::Serve { config, db, listen, clock_start, log_format } => {
            init_tracing(log_format);
            // A hall edge's config: the core's for its halls, with the edge file's own sections.
            let mut edge_file = config.as_deref().map(qcall_server::config::edge_file).transpose()?.flatten();
            if let (Some(ef), Some(db)) = (edge_file.as_mut(), db.as_ref()) {
                ef.cache = db.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(std::path::Path::new(".")).join("core-config.toml");
            }
            let mut cfg = match &edge_file {
                Some(ef) => tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(qcall_server::edge::config_at_start(ef))?,
                None => load_config(config.as_ref())?,
            };
            if let Some(db) = db {
                if cfg.postgres.is_some() {
                    anyhow::bail!("--db names a SQLite file, but {} keeps the database in PostgreSQL ([store] kind = \"postgres\")", cfg.source);
                }
                cfg.db = db;
            }
            if let Some(listen) = listen {
                if listen.parse::<std::net::SocketAddr>().is_err() {
                    anyhow::bail!("--listen: `{listen}` is not an address like 127.0.0.1:8080");
                }
                let scheme = if cfg.tls.is_some() { "https" } else { "http" };
                if cfg.public_base_url == format!("{scheme}://{}", cfg.listen) {
                    cfg.public_base_url = format!("{scheme}://{listen}");
                }
                cfg.listen = listen;
            }
            let addr: std::net::SocketAddr = cfg.listen.parse()?;
            if cfg.demo_credentials && !addr.ip().is_loopback() {
                anyhow::bail!(
                    "{}: refusing to listen on {} with the demo credentials (their tokens and PINs are public). \
                     Make a config of your own: copy config/qcall.toml, replace every token_hash with one from \
                     `qcall token` and every pin_hash with one from `qcall hash-pin`, and pass it with --config. \
                     The demo config listens on loopback only.",
                    cfg.source,
                    cfg.listen
                );
            }
            let clock: std::sync::Arc<dyn qcall_server::clock::Clock> = match clock_start {
                None => std::sync::Arc::new(qcall_server::clock::SystemClock),
                Some(s) if s == "open" => {
                    let now = chrono::Utc::now().timestamp_millis();
                    let from = qcall_server::store::last_event_at(&cfg.store())?.map_or(now, |last| last.max(now));
                    let t = first_open(&cfg.topology, from);
                    if t == now {
                        std::sync::Arc::new(qcall_server::clock::SystemClock)
                    } else {
                        println!("qcall: the halls are closed now; the clock starts at {} (--clock-start open)", qcall_server::view::time(t).with_timezone(&cfg.topology.tz).format("%Y-%m-%d %a %H:%M"));
                        std::sync::Arc::new(qcall_server::clock::OffsetClock::starting_at(t))
                    }
                }
                Some(s) => {
                    let t = chrono::DateTime::parse_from_rfc3339(&s)
                        .map_err(|e| anyhow::anyhow!("--clock-start: `{s}` is not a time like 2026-12-01T09:40:00+08:00 ({e})"))?;
                    std::sync::Arc::new(qcall_server::clock::OffsetClock::starting_at(t.timestamp_millis()))
                }
            };
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let r = rt.block_on(serve(cfg, clock));
            // A standby stopped while it waited for the lease leaves that wait behind.
            rt.shutdown_timeout(std::time::Duration::from_secs(2));
            r
        }
        Cmd::CheckConfig { config } => {
            // A hall edge's file is checked with the core's config it keeps (or fetches).
            let cfg = match config.as_deref().map(qcall_server::config::edge_file).transpose()?.flatten() {
                Some(ef) => tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(qcall_server::edge::config_at_start(&ef))?,
                None => load_config(config.as_ref())?,
            };
            let t = &cfg.topology;
            println!("{}: ok", cfg.source);
            println!("  {} halls, {} services, {} counters, {} clerks, {} devices", t.halls.len(), t.services.len(), t.counters.len(), cfg.clerks.len(), cfg.devices.len());
            let periods = |hours: &[(u32, u32)]| -> Vec<String> {
                hours
                    .iter()
                    .map(|&(a, b)| format!("{}-{}", qcall_server::domain::calendar::format_minute(a), qcall_server::domain::calendar::format_minute(b)))
                    .collect()
            };
            for (h, hall) in t.halls.iter().enumerate() {
                let counters: Vec<String> = t.counters.iter().filter(|c| c.hall == h).map(|c| c.id.clone()).collect();
                println!("  {} {} ({}): {}", hall.id, hall.name_zh, hall.name_en, counters.join(" "));
                let hours = periods(&hall.hours);
                println!("    hours: {}", if hours.is_empty() { "always open".to_string() } else { hours.join(", ") + " on working days" });
                for c in t.counters.iter().filter(|c| c.hall == h && !c.hours.is_empty()) {
                    println!("    {} staffed only {}", c.id, periods(&c.hours).join(", "));
                }
            }
            let years: Vec<String> = t.calendar.years.iter().map(i32::to_string).collect();
            println!(
                "  calendar: {} holidays, {} 调休 workdays; years covered: {}",
                t.calendar.holidays.len(),
                t.calendar.workdays.len(),
                if years.is_empty() { "none".to_string() } else { years.join(", ") }
            );
            let today = t.local(chrono::Utc::now().timestamp_millis()).0;
            if let Some(year) = t.calendar_missing(today) {
                println!("  warning: the {year} holidays are not configured ([calendar] holidays, workdays and years): the halls would open on them");
            }
            let a = &t.appointments;
            if a.enabled {
                println!(
                    "  appointments: {}-minute slots, {} working days ahead, check-in {} min early to {} min late, cancel until {} min before",
                    a.slot_minutes, a.days_ahead, a.early_minutes, a.late_minutes, a.cancel_before_minutes
                );
            } else {
                println!("  appointments: not offered");
            }
            println!("  listen {}, database {}", cfg.listen, cfg.db.display());
            Ok(())
        }
        Cmd::Bench { duration, size_tickets, quick, postgres } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            let exe = std::env::current_exe()?;
            rt.block_on(qcall_server::bench::run(qcall_server::bench::Options { duration: std::time::Duration::from_secs(duration.max(1)), exe, size_tickets, quick, postgres }))
        }
        Cmd::ServeFloor { listen } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(qcall_server::bench::serve_floor(&listen))
        }
        Cmd::Hall { cmd: HallCmd::Takeover { hall, skip, server, token_file } } => {
            let token = match token_file {
                Some(f) => std::fs::read_to_string(&f).with_context(|| format!("{}", f.display()))?.trim().to_string(),
                None => std::env::var("QCALL_TOKEN").context("a supervisor's token: --token-file FILE, or QCALL_TOKEN")?,
            };
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let r = rt.block_on(async {
                let client = qcall_client::Client::new(&server, &qcall_client::ClientOptions::default())?.with_token(&token);
                client.takeover(&hall, &qcall_wire::TakeoverRequest { skip }).await
            })?;
            println!("the core runs {} now; it numbers on from:", r.hall);
            for (service, next) in &r.next {
                println!("  {service:<14} {next}");
            }
            Ok(())
        }
        Cmd::Token => {
            let token = qcall_server::secret::new_token();
            println!("token:       {token}");
            println!("token_hash = \"{}\"", qcall_server::secret::hash_token(&token));
            Ok(())
        }
        Cmd::Backup { db, config, out } => {
            let db = db_path(db, config.as_ref(), "backup")?;
            let s = qcall_server::maintenance::backup(&db, &out)?;
            println!(
                "backup {}: {} tickets, {} events (last {}), schema {}, {} bytes",
                out.display(),
                s.tickets,
                s.events,
                s.last_seq,
                s.schema_version,
                s.bytes
            );
            Ok(())
        }
        Cmd::Restore { from, db, config } => {
            let db = db_path(db, config.as_ref(), "restore")?;
            let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
            let (s, kept) = qcall_server::maintenance::restore(&from, &db, &stamp)?;
            println!("restored {} from {}: {} tickets, {} events (last {})", db.display(), from.display(), s.tickets, s.events, s.last_seq);
            if let Some(k) = kept {
                println!("the database it replaced is kept as {}", k.display());
            }
            Ok(())
        }
        Cmd::Purge { before, db, config } => {
            let cfg = load_config(config.as_ref())?;
            let at = match db {
                Some(db) => qcall_server::store::StoreAt::Sqlite(db),
                None => cfg.store(),
            };
            let before: chrono::NaiveDate =
                before.parse().map_err(|_| anyhow::anyhow!("--before `{before}` is not a date like 2026-01-01"))?;
            let today = cfg.topology.local(chrono::Utc::now().timestamp_millis()).0;
            if before > today {
                anyhow::bail!("--before {before} is after today ({today}): only past days can be purged");
            }
            if let qcall_server::store::StoreAt::Sqlite(db) = &at {
                if !db.exists() {
                    anyhow::bail!("{} does not exist", db.display());
                }
            }
            let mut store = qcall_server::store::Store::open(&at, cfg.topology.clone())?;
            // The audit trail keeps its own retention (the server's hourly purge); nothing of it goes here.
            let purge = qcall_server::store::Purge { audit_before: 0, clerks_before: before, bookings_before: before, today };
            let done = store.commit(&qcall_server::store::Batch { purge: Some(purge), ..Default::default() })?;
            println!(
                "purged the days before {before} in {}: who served {} tickets; {} bookings' personal data",
                at.place(),
                done.clerks,
                done.bookings
            );
            Ok(())
        }
        Cmd::CheckDb { db, config } => {
            let (c, db) = match db {
                Some(db) => (qcall_server::maintenance::check(&db)?, db.display().to_string()),
                None => {
                    let cfg = load_config(config.as_ref())?;
                    match cfg.store() {
                        qcall_server::store::StoreAt::Sqlite(db) => (qcall_server::maintenance::check(&db)?, db.display().to_string()),
                        at => {
                            let mut conn = at.connect()?;
                            (qcall_server::maintenance::check_postgres(&mut conn)?, at.place())
                        }
                    }
                }
            };
            for p in &c.problems {
                println!("problem: {p}");
            }
            let s = &c.summary;
            if !c.problems.is_empty() {
                anyhow::bail!("{db}: {} problems ({} tickets, {} events, schema {})", c.problems.len(), s.tickets, s.events, s.schema_version);
            }
            println!("{db}: ok, {} tickets, {} events (last {}), schema {}", s.tickets, s.events, s.last_seq, s.schema_version);
            Ok(())
        }
        Cmd::HashPassword { password } => {
            let why = "a supervisor password needs at least {} characters";
            print_hash(password, "Password", qcall_server::secret::MIN_PASSWORD_LEN, why, "password_hash")
        }
        Cmd::HashPin { pin } => {
            let why = "a PIN needs at least {} characters (a 4-digit PIN falls to guessing in minutes)";
            print_hash(pin, "PIN", qcall_server::secret::MIN_PIN_LEN, why, "pin_hash")
        }
    }
}

/// `t` if some hall issues tickets then, else the first time one does.
fn first_open(topo: &qcall_server::domain::Topology, t: qcall_server::domain::Millis) -> qcall_server::domain::Millis {
    use qcall_server::domain::Opening;
    (0..topo.halls.len())
        .filter_map(|h| match topo.opening(h, t) {
            Opening::Open { .. } => Some(t),
            Opening::Closed { next_open } => next_open,
        })
        .min()
        .unwrap_or(t)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match format {
        LogFormat::Text => fmt.with_target(false).with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => fmt.json().with_current_span(true).flatten_event(true).init(),
    }
}

async fn serve(cfg: Config, clock: std::sync::Arc<dyn qcall_server::clock::Clock>) -> anyhow::Result<()> {
    let source = cfg.source.clone();
    let db = cfg.store().place();
    if clock.chosen() {
        tracing::warn!(now = %qcall_server::view::time(clock.now()).to_rfc3339(), "the clock was set by --clock-start (tests and demos only)");
    }
    let topo = &cfg.topology;
    if let Some(year) = topo.calendar_missing(topo.local(clock.now()).0) {
        let covered: Vec<String> = topo.calendar.years.iter().map(i32::to_string).collect();
        tracing::warn!(
            year,
            covered = %covered.join(","),
            "the {year} holidays are not configured ([calendar] holidays, workdays and years): the halls would open on them; the duty leader gets an alert"
        );
    }
    // A hall edge first takes what the core holds of its log beyond its own store.
    if let Err(e) = qcall_server::edge::catch_up(&cfg).await {
        anyhow::bail!("this hall server's log is behind the core's and the rest could not be taken: {e}");
    }
    let server = tokio::select! {
        s = qcall_server::http::Server::start(cfg, clock) => s.with_context(|| format!("starting with {source}"))?,
        _ = shutdown_signal() => {
            tracing::info!("stopped before serving");
            return Ok(());
        }
    };
    tracing::info!(addr = %server.addr, db = %db, config = %source, "qcall serving");
    let scheme = if server.tls() { "https" } else { "http" };
    println!("qcall listening on {scheme}://{}", server.addr);
    if let Some(p) = server.public_addr() {
        tracing::info!(addr = %p, "public face (booking and ticket pages only) serving");
        println!("qcall public face on {scheme}://{p}");
    }
    let fenced = tokio::select! {
        _ = shutdown_signal() => false,
        _ = server.fenced() => true,
    };
    tracing::info!("shutting down");
    server.shutdown().await?;
    if fenced {
        anyhow::bail!("another server took over as the writer of {db}: this one stopped (start it again to be the standby)");
    }
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
