//! What the bureau's IT staff run the server with: log lines for journald and collectors,
//! Prometheus metrics, the systemd units.

use serde_json::Value;

use crate::util::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_log_format_json_every_log_line_is_one_json_object() {
    let mut server = Server::start_args(&["--log-format", "json"]);
    let api = server.api();
    api.issue("east", "filing").await;
    let clerk = api.sign_in("clerk01", "E01").await;
    assert_eq!(api.act(&clerk, "E01", "call-next").await.0, 200);
    let (status, _) = api.call("POST", "/api/v1/sessions", None, Some(serde_json::json!({"clerk": "clerk01", "pin": "0000", "counter": "E01"}))).await;
    assert_eq!(status, 401);
    server.stop();
    let log = server.log();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for l in &lines {
        assert!(l["timestamp"].is_string() && l["level"].is_string() && l["message"].is_string(), "{l}");
    }
    let find = |message: &str| lines.iter().find(|l| l["message"] == message).unwrap_or_else(|| panic!("no `{message}` in {log}"));
    assert!(find("database opened")["schema"].as_i64().unwrap() >= 3);
    let wrong = find("wrong PIN or password");
    assert_eq!((wrong["level"].as_str(), wrong["account"].as_str()), (Some("WARN"), Some("clerk:clerk01")));
    assert_eq!(find("signed in")["clerk"], "clerk01");
}

/// `GET /metrics`, read by a Prometheus text parser.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_in_prometheus_text_format_count_what_happened() {
    use prometheus_parse::{Scrape, Value as P};
    let server = Server::start();
    let api = server.api();
    for _ in 0..3 {
        api.issue("east", "filing").await;
    }
    api.issue("west", "invoice").await;
    let clerk = api.sign_in("clerk01", "E01").await;
    assert_eq!(api.act(&clerk, "E01", "call-next").await.0, 200);
    assert_eq!(api.act(&clerk, "E01", "finish").await.0, 200);
    let kiosk = server.client().with_token("demo-kiosk-east");
    let fault = qcall_wire::DeviceStatusReport { ok: false, code: "paper_end".into(), message: "缺纸".into() };
    kiosk.report_device("kiosk-east-1", &fault).await.unwrap();
    let mut ws = crate::util::ws_connect(&server.ws_url("/api/v1/halls/east/events")).await;
    let _hello = crate::util::ws_next(&mut ws).await;

    let supervisor = server.client().with_token("demo-supervisor");
    let text = supervisor.prometheus_metrics().await.unwrap();
    let scrape = Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap_or_else(|e| panic!("{e}: {text}"));
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        let s = scrape
            .samples
            .iter()
            .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
            .unwrap_or_else(|| panic!("no {name} {labels:?} in\n{text}"));
        match &s.value {
            P::Counter(v) | P::Gauge(v) | P::Untyped(v) => *v,
            other => panic!("{name}: {other:?}"),
        }
    };
    assert_eq!(value("qcall_tickets_issued_today", &[("hall", "east"), ("service", "filing")]), 3.0);
    assert_eq!(value("qcall_tickets_issued_today", &[("hall", "west"), ("service", "invoice")]), 1.0);
    assert_eq!(value("qcall_tickets_served_today", &[("hall", "east"), ("service", "filing")]), 1.0);
    assert_eq!(value("qcall_waiting", &[("hall", "east"), ("service", "filing")]), 2.0);
    assert_eq!(value("qcall_counters", &[("hall", "east"), ("state", "open")]), 1.0);
    assert_eq!(value("qcall_device_up", &[("device", "kiosk-east-1"), ("kind", "kiosk")]), 0.0);
    assert_eq!(value("qcall_stream_subscribers", &[]), 1.0);
    assert_eq!(value("qcall_stream_subscribers_dropped_total", &[]), 0.0);
    assert_eq!(value("qcall_store_up", &[]), 1.0);
    let commits = value("qcall_commits_total", &[]);
    assert!(commits >= 7.0, "{commits}");
    let histogram = |name: &str| {
        scrape
            .samples
            .iter()
            .find_map(|s| match (&s.value, s.metric == name) {
                (P::Histogram(h), true) => Some(h.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no histogram {name} in\n{text}"))
    };
    let commit = histogram("qcall_commit_seconds");
    assert_eq!(commit.iter().map(|b| b.count).fold(0.0, f64::max), commits, "every commit is in the histogram");
    let batches = histogram("qcall_batch_commands");
    assert!(batches.iter().map(|b| b.count).fold(0.0, f64::max) >= value("qcall_batches_total", &[]));
    // Only supervisors read it.
    let e = server.client().with_token("demo-kiosk-east").prometheus_metrics().await.unwrap_err();
    assert!(e.to_string().contains("403"), "{e}");
}

/// The units in `packaging/systemd` pass `systemd-analyze verify`, with this build's binaries
/// in place of the installed ones (and `cage`, the kiosk PCs' compositor, standing in as
/// `/bin/true`).
#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let units = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/systemd");
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| crate::util::bin(name).display().to_string();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&units).unwrap() {
        let unit = entry.unwrap().path();
        let text = std::fs::read_to_string(&unit)
            .unwrap()
            .replace("/usr/bin/qcall-kiosk ", &format!("{} ", path("qcall-kiosk")))
            .replace("/usr/bin/qcall-display ", &format!("{} ", path("qcall-display")))
            .replace("/usr/bin/qcall ", &format!("{} ", path("qcall")))
            .replace("/usr/bin/cage ", "/bin/true ");
        let copy = dir.path().join(unit.file_name().unwrap());
        std::fs::write(&copy, text).unwrap();
        files.push(copy);
    }
    assert_eq!(files.len(), 3, "the server, the kiosk and the display");
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .args(&files)
        .output()
        .expect("systemd-analyze (Debian's systemd; scripts/deps.sh test installs it)");
    let err = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = err.lines().filter(|l| l.contains("qcall")).collect();
    assert!(out.status.success() && ours.is_empty(), "{err}");
}

/// `qcall purge --before DATE` forgets who served the tickets of earlier days (and bookings'
/// personal data); today's tickets and the counts stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_forgets_the_clerks_of_earlier_days_only() {
    let mut server = Server::start();
    let api = server.api();
    for _ in 0..3 {
        api.issue("east", "filing").await;
    }
    let clerk = api.sign_in("clerk01", "E01").await;
    for _ in 0..2 {
        assert_eq!(api.act(&clerk, "E01", "call-next").await.0, 200);
        assert_eq!(api.act(&clerk, "E01", "finish").await.0, 200);
    }
    server.stop();
    // Make the first served ticket one of last January's.
    let conn = rusqlite::Connection::open(&server.db).unwrap();
    conn.execute("UPDATE tickets SET day = '2026-01-05' WHERE id = 1", []).unwrap();
    let clerks = |conn: &rusqlite::Connection| -> Vec<(i64, Option<String>)> {
        let mut st = conn.prepare("SELECT id, clerk FROM tickets ORDER BY id").unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(clerks(&conn), [(1, Some("clerk01".into())), (2, Some("clerk01".into())), (3, None)]);

    let run = |before: &str| {
        let out = std::process::Command::new(crate::util::bin("qcall"))
            .args(["purge", "--before", before, "--db", &server.db.display().to_string()])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (code, out, err) = run("2026-02-01");
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("who served 1 tickets"), "{out}");
    assert_eq!(clerks(&conn), [(1, None), (2, Some("clerk01".into())), (3, None)], "today's stay");
    let (code, _, err) = run("2999-01-01");
    assert_eq!(code, Some(1));
    assert!(err.contains("only past days can be purged"), "{err}");
    let (code, _, err) = run("yesterday");
    assert_eq!(code, Some(1));
    assert!(err.contains("not a date"), "{err}");
}

/// A holiday calendar that runs out: `qcall check-config` names the years it covers, and the
/// server warns at start in December while next year's holidays are missing.
#[test]
fn a_calendar_without_next_years_holidays_is_named_at_check_and_at_start() {
    let out = std::process::Command::new(crate::util::bin("qcall")).arg("check-config").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("years covered: 2026"), "{text}");
    let srv = Server::start_at(&crate::util::demo_config_text(), "2026-11-30T10:00:00+08:00");
    assert!(!srv.log().contains("holidays are not configured"), "{}", srv.log());
    drop(srv);
    let srv = Server::start_at(&crate::util::demo_config_text(), "2026-12-01T10:00:00+08:00");
    assert!(srv.log().contains("the 2027 holidays are not configured"), "{}", srv.log());
}

/// `qcall bench` runs every measurement through to its last JSON line: the ticket rates, the
/// fan-out to hall TVs (which connect with their display tokens, as in a hall) and the cold
/// start. The figures are the benchmark's business; here only that each one is there.
#[test]
fn the_benchmark_runs_every_measurement_to_the_end() {
    let dir = tempfile::tempdir().unwrap();
    // `qcall bench ARGS` to the end; its last line, the figures as JSON.
    let bench = |args: &[&str]| -> Value {
        let out = std::process::Command::new(crate::util::bin("qcall")).arg("bench").args(args).env("TMPDIR", dir.path()).output().unwrap();
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{stdout}\n{stderr}");
        serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    };
    let last = bench(&["--quick", "--duration", "1", "--size-tickets", "2000"]);
    assert!(last["fanout"]["p99_ms"].as_f64().is_some_and(|v| v > 0.0), "{last}");
    assert!(last["issue"].as_array().is_some_and(|a| !a.is_empty()), "{last}");
    assert!(last["cold_start_ms"].as_f64().is_some_and(|v| v > 0.0), "{last}");

    // The stores' comparison: SQLite, PostgreSQL, PostgreSQL with a synchronous standby.
    let last = bench(&["--postgres", "--quick", "--duration", "1"]);
    let stores: Vec<&str> = last["stores"].as_array().unwrap().iter().map(|s| s["store"].as_str().unwrap()).collect();
    assert_eq!(stores, ["sqlite", "postgres", "postgres + synchronous standby"]);
    assert!(last["stores"].as_array().unwrap().iter().all(|s| s["rate"].as_f64().is_some_and(|r| r > 0.0)), "{last}");
}
