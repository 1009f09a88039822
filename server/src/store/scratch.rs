//! Scratch PostgreSQL servers for tests: `initdb` and `pg_ctl` in a temporary directory, on a
//! free loopback port, as the `postgres` user when running as root (PostgreSQL refuses root).
//! A watcher stops the server and removes its directory when the process that started it
//! ends, however it ends.
//!
//! The store's tests run against SQLite, and against PostgreSQL too with
//! `QCALL_TEST_STORE=postgres` ([`test_store`]): one scratch server per test process, one
//! fresh database per test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::{PgSettings, StoreAt};

/// A PostgreSQL server of our own, for tests.
#[derive(Debug)]
pub struct ScratchPostgres {
    pub port: u16,
    pub dir: PathBuf,
    bin: PathBuf,
}

/// Where PostgreSQL's server programs are (the newest installed).
pub fn bin_dir() -> Result<PathBuf, String> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if p.join("initdb").exists() {
            return Ok(p);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (scripts/deps.sh test installs it)".to_string())?
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, p): &(u32, PathBuf)| p.join("initdb").exists())
        .collect();
    found.sort();
    found.pop().map(|(_, p)| p).ok_or_else(|| "no initdb under /usr/lib/postgresql".into())
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// `program args…` as the `postgres` user when we are root, else as ourselves.
pub fn as_postgres(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.arg("-u").arg("postgres").arg("--").arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut c: Command, what: &str) -> Result<(), String> {
    let out = c.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    }
}

/// A new directory's path for a server. Under `/tmp` when we are root: the `postgres` user
/// must be able to reach it, which a private `TMPDIR` would not let it.
fn scratch_dir() -> PathBuf {
    let base = if is_root() { PathBuf::from("/tmp") } else { std::env::temp_dir() };
    base.join(format!("qcall-pg-{}-{}", std::process::id(), rand::random::<u32>()))
}

/// A free loopback port (free when asked).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(0)
}

impl ScratchPostgres {
    /// Makes and starts a server in a new temporary directory. `durable`: fsync on (the
    /// failover and benchmark runs); off for the conformance tests' speed.
    pub fn start(durable: bool) -> Result<ScratchPostgres, String> {
        let bin = bin_dir()?;
        let dir = scratch_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(&dir);
                    c
                },
                "chown",
            )?;
        }
        let data = dir.join("data");
        let mut init = as_postgres(&bin.join("initdb"));
        init.arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync"]);
        run(init, "initdb")?;
        let port = free_port();
        let conf = format!(
            "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\nfsync = {}\nsynchronous_commit = {}\n\
             full_page_writes = {}\nmax_connections = 200\nshared_buffers = 64MB\nlog_min_messages = warning\n",
            dir.display(),
            if durable { "on" } else { "off" },
            if durable { "on" } else { "off" },
            if durable { "on" } else { "off" },
        );
        let append = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf"));
        std::io::Write::write_all(&mut append.map_err(|e| e.to_string())?, conf.as_bytes()).map_err(|e| e.to_string())?;
        let mut start = as_postgres(&bin.join("pg_ctl"));
        start.arg("-D").arg(&data).arg("-l").arg(dir.join("log")).args(["-w", "-t", "60", "start"]);
        run(start, "pg_ctl start")?;
        let pg = ScratchPostgres { port, dir, bin };
        pg.watch(std::process::id());
        Ok(pg)
    }

    /// Stops the server and removes its directory once process `pid` is gone.
    fn watch(&self, pid: u32) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {} {}/pg_ctl -D {}/data -m immediate stop >/dev/null 2>&1; rm -rf {}",
            if is_root() { "runuser -u postgres --" } else { "" },
            self.bin.display(),
            self.dir.display(),
            self.dir.display()
        );
        let _ = Command::new("setsid")
            .arg("sh")
            .arg("-c")
            .arg(script)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }

    /// A primary with a streaming standby that confirms every commit (`synchronous_commit =
    /// on`, `synchronous_standby_names = '*'`): a commit returns once it is on both.
    pub fn start_with_sync_standby() -> Result<(ScratchPostgres, ScratchPostgres), String> {
        let primary = ScratchPostgres::start(true)?;
        let data = primary.dir.join("data");
        let conf = "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n";
        let append = |path: &Path, text: &str| -> Result<(), String> {
            let f = std::fs::OpenOptions::new().append(true).open(path);
            std::io::Write::write_all(&mut f.map_err(|e| e.to_string())?, text.as_bytes()).map_err(|e| e.to_string())
        };
        append(&data.join("postgresql.conf"), conf)?;
        append(&data.join("pg_hba.conf"), "host replication postgres 127.0.0.1/32 trust\n")?;
        let mut restart = as_postgres(&primary.bin.join("pg_ctl"));
        restart.arg("-D").arg(&data).arg("-l").arg(primary.dir.join("log")).args(["-w", "-t", "60", "restart"]);
        run(restart, "pg_ctl restart")?;

        let dir = scratch_dir();
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        if is_root() {
            let mut c = Command::new("chown");
            c.arg("postgres:postgres").arg(&dir);
            run(c, "chown")?;
        }
        let sdata = dir.join("data");
        let mut base = as_postgres(&primary.bin.join("pg_basebackup"));
        base.arg("-D").arg(&sdata).args(["-R", "-X", "stream", "-h", "127.0.0.1", "-U", "postgres"]).arg("-p").arg(primary.port.to_string());
        run(base, "pg_basebackup")?;
        let port = free_port();
        append(&sdata.join("postgresql.conf"), &format!("port = {port}\nunix_socket_directories = '{}'\n", dir.display()))?;
        append(&sdata.join("postgresql.auto.conf"), "primary_conninfo = 'host=127.0.0.1 user=postgres application_name=standby1 port=PORT'\n".replace("PORT", &primary.port.to_string()).as_str())?;
        let mut start = as_postgres(&primary.bin.join("pg_ctl"));
        start.arg("-D").arg(&sdata).arg("-l").arg(dir.join("log")).args(["-w", "-t", "60", "start"]);
        run(start, "pg_ctl start (standby)")?;
        let standby = ScratchPostgres { port, dir, bin: primary.bin.clone() };
        standby.watch(std::process::id());
        // Every commit waits for the standby from now on; wait until it is the synchronous one.
        let url = primary.url("postgres");
        std::thread::scope(|s| {
            s.spawn(|| -> Result<(), String> {
                let mut c = postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
                let say = |e: postgres::Error| e.as_db_error().map_or_else(|| e.to_string(), |d| d.message().to_string());
                c.batch_execute("ALTER SYSTEM SET synchronous_standby_names = '*'").map_err(say)?;
                c.batch_execute("SELECT pg_reload_conf()").map_err(say)?;
                let t0 = std::time::Instant::now();
                loop {
                    let rows = c.query("SELECT sync_state FROM pg_stat_replication", &[]).map_err(|e| e.to_string())?;
                    if rows.iter().any(|r| r.get::<_, String>(0) == "sync") {
                        return Ok(());
                    }
                    if t0.elapsed() > std::time::Duration::from_secs(60) {
                        return Err("the standby did not become synchronous".into());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            })
            .join()
            .unwrap_or_else(|_| Err("panicked".into()))
        })?;
        Ok((primary, standby))
    }

    /// From now on TCP connections must use TLS with this certificate (PEM files); the local
    /// socket stays open. Restarts the server.
    pub fn require_tls(&self, cert: &Path, key: &Path) -> Result<(), String> {
        let data = self.dir.join("data");
        for (from, to) in [(cert, "server.crt"), (key, "server.key")] {
            std::fs::copy(from, data.join(to)).map_err(|e| format!("{}: {e}", from.display()))?;
            if is_root() {
                let mut c = Command::new("chown");
                c.arg("postgres:postgres").arg(data.join(to));
                run(c, "chown")?;
            }
        }
        let mut c = Command::new("chmod");
        c.arg("600").arg(data.join("server.key"));
        run(c, "chmod")?;
        let f = std::fs::OpenOptions::new().append(true).open(data.join("postgresql.conf"));
        std::io::Write::write_all(&mut f.map_err(|e| e.to_string())?, b"ssl = on\n").map_err(|e| e.to_string())?;
        std::fs::write(data.join("pg_hba.conf"), "local all all trust\nhostssl all all 127.0.0.1/32 trust\n").map_err(|e| e.to_string())?;
        let mut restart = as_postgres(&self.bin.join("pg_ctl"));
        restart.arg("-D").arg(&data).arg("-l").arg(self.dir.join("log")).args(["-w", "-t", "60", "restart"]);
        run(restart, "pg_ctl restart")
    }

    /// The URL of `db` on this server, as the `postgres` superuser (trust on loopback).
    pub fn url(&self, db: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// A new, empty database; its settings.
    pub fn new_database(&self) -> Result<PgSettings, String> {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let name = format!("t{}_{}", std::process::id(), N.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        let url = self.url("postgres");
        // On a thread of its own: the driver may not run inside a test's runtime.
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut admin = postgres::Client::connect(&url, postgres::NoTls).map_err(|e| e.to_string())?;
                admin.batch_execute(&format!("CREATE DATABASE {name}")).map_err(|e| e.to_string())
            })
            .join()
            .unwrap_or_else(|_| Err("panicked".into()))
        })?;
        Ok(PgSettings { url: self.url(&name), password: None, ca_file: None, connect_timeout: std::time::Duration::from_secs(5) })
    }

    /// Stops the server now (`-m immediate`: as a crash would).
    pub fn stop(&self) {
        let mut c = as_postgres(&self.bin.join("pg_ctl"));
        c.arg("-D").arg(self.dir.join("data")).args(["-m", "immediate", "stop"]);
        let _ = c.output();
    }
}

/// The scratch server this test process shares (started by the first caller).
pub fn shared() -> &'static ScratchPostgres {
    static SHARED: OnceLock<Result<ScratchPostgres, String>> = OnceLock::new();
    match SHARED.get_or_init(|| ScratchPostgres::start(false)) {
        Ok(pg) => pg,
        Err(e) => panic!("a scratch PostgreSQL server cannot start: {e}"),
    }
}

/// Whether this test run puts the store on PostgreSQL (`QCALL_TEST_STORE=postgres`).
pub fn testing_postgres() -> bool {
    std::env::var("QCALL_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// Where a test's store is: `dir/qcall.db`, or a fresh database on the shared scratch
/// server with `QCALL_TEST_STORE=postgres`.
pub fn test_store(dir: &Path) -> StoreAt {
    if testing_postgres() {
        StoreAt::Postgres(shared().new_database().unwrap_or_else(|e| panic!("a scratch database: {e}")))
    } else {
        StoreAt::Sqlite(dir.join("qcall.db"))
    }
}
