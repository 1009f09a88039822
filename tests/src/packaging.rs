//! The Debian packages: `scripts/package.sh --dev` builds all three from this build's binaries,
//! each holds what a bureau's machine needs, and the server package installs here (as root):
//! its user, its directories and its config, and the installed binary run as `qcall` with the
//! installed config answers `/healthz`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::util::free_port;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The one package file of `name` in target/debian.
fn deb(name: &str) -> PathBuf {
    let dir = root().join("target/debian");
    let found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("{name}_")) && n.ends_with(".deb")))
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found.into_iter().next().unwrap()
}

fn field(deb: &Path, name: &str) -> String {
    run(Command::new("dpkg-deb").arg("--field").arg(deb).arg(name)).trim().to_string()
}

fn wav_count(dir: &Path) -> usize {
    std::fs::read_dir(dir).unwrap().filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "wav")).count()
}

#[test]
fn three_packages_build_and_the_server_package_installs_and_serves_as_qcall() {
    run(Command::new(root().join("scripts/package.sh")).arg("--dev").current_dir(root()));

    // What each package holds, unpacked into a folder.
    let unpacked = tempfile::tempdir().unwrap();
    for (pkg, bin, conf, unit) in [
        ("qcall", "usr/bin/qcall", "etc/qcall/qcall.toml", "usr/lib/systemd/system/qcall.service"),
        ("qcall-kiosk", "usr/bin/qcall-kiosk", "etc/qcall/kiosk.toml", "usr/lib/systemd/system/qcall-kiosk.service"),
        ("qcall-display", "usr/bin/qcall-display", "etc/qcall/display.toml", "usr/lib/systemd/system/qcall-display.service"),
    ] {
        let file = deb(pkg);
        assert_eq!(field(&file, "Package"), pkg);
        let depends = field(&file, "Depends");
        assert!(depends.contains("libc6") && depends.contains("passwd"), "{pkg}: {depends}");
        let tree = unpacked.path().join(pkg);
        run(Command::new("dpkg-deb").arg("-x").arg(&file).arg(&tree));
        for f in [bin, conf, unit] {
            assert!(tree.join(f).is_file(), "{pkg} lacks /{f}");
        }
        let text = std::fs::read_to_string(tree.join(conf)).unwrap();
        assert!(!text.contains("../"), "{pkg}: /{conf} names a path of the repository");
        if pkg != "qcall" {
            // The appliances' voice clips, where their configs look for them.
            let voice = format!("usr/share/{pkg}/voice");
            assert!(text.contains(&format!("\"/{voice}\"")), "{pkg}: {conf} does not use /{voice}");
            for lang in ["zh-CN", "en"] {
                let shipped = wav_count(&tree.join(&voice).join(lang));
                assert_eq!(shipped, wav_count(&root().join("assets/voice").join(lang)), "{pkg} {lang} clips");
            }
            assert!(depends.contains("cage") && depends.contains("libasound2"), "{pkg}: {depends}");
        } else {
            assert!(text.contains("db = \"/var/lib/qcall/qcall.db\""), "{text}");
        }
    }

    // Installing needs root; CI runs as root.
    if !rustix::process::geteuid().is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI must run as root to install the package");
        println!("SKIP installing the server package: not root");
        return;
    }
    run(Command::new("dpkg").arg("-i").arg(deb("qcall")));
    let passwd = run(Command::new("getent").args(["passwd", "qcall"]));
    assert!(passwd.contains(":/var/lib/qcall:/usr/sbin/nologin"), "{passwd}");
    let stat = |p: &str| run(Command::new("stat").args(["-c", "%U:%G %a", p])).trim().to_string();
    assert_eq!(stat("/var/lib/qcall"), "qcall:qcall 750");
    assert_eq!(stat("/etc/qcall/qcall.toml"), "root:qcall 640");
    assert_eq!(stat("/usr/bin/qcall"), "root:root 755");
    run(Command::new("runuser").args(["-u", "qcall", "--", "/usr/bin/qcall", "check-config", "--config", "/etc/qcall/qcall.toml"]));

    // The unit started it where systemd runs; elsewhere run what the unit runs, as its user.
    let systemd = Path::new("/run/systemd/system").is_dir();
    let port = if systemd { 8080 } else { free_port() };
    // A database of its own in the package's directory (a database left by an earlier run, or
    // a real one, stays untouched), on the tests' controlled clock.
    let db = "/var/lib/qcall/qcall-package-test.db";
    let remove_db = || {
        for suffix in ["", "-wal", "-shm", ".lock"] {
            let _ = std::fs::remove_file(format!("{db}{suffix}"));
        }
    };
    remove_db();
    let mut child = (!systemd).then(|| {
        Command::new("runuser")
            .args(["-u", "qcall", "--", "/usr/bin/qcall", "serve", "--config", "/etc/qcall/qcall.toml", "--log-format", "json"])
            .args(["--db", db, "--clock-start", crate::util::DEFAULT_CLOCK])
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .current_dir("/var/lib/qcall")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("runuser")
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let healthz = loop {
        use std::io::{Read, Write};
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
            let mut buf = String::new();
            let _ = s.read_to_string(&mut buf);
            if buf.starts_with("HTTP/1.0 200") || buf.starts_with("HTTP/1.1 200") {
                break buf;
            }
        }
        if let Some(Ok(Some(status))) = child.as_mut().map(std::process::Child::try_wait) {
            panic!("the installed qcall exited with {status}");
        }
        assert!(Instant::now() < deadline, "the installed qcall never answered /healthz");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(healthz.contains("\"status\":\"ok\""), "{healthz}");
    // Its database is in the package's directory, owned by its user.
    let db_file = if systemd { "/var/lib/qcall/qcall.db" } else { db };
    assert_eq!(stat(db_file).split(' ').next(), Some("qcall:qcall"));
    if let Some(mut c) = child {
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        let _ = c.wait();
    }
    println!("MEASURE installed server package {} answered /healthz on port {port} as qcall", deb("qcall").display());
    // Removed again, as a bureau would: the config, the user and the database stay.
    run(Command::new("dpkg").args(["--remove", "qcall"]));
    assert!(Path::new("/etc/qcall/qcall.toml").is_file() && Path::new(db_file).is_file());
    if !systemd {
        remove_db();
    }
}
