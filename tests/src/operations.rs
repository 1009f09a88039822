//! What the bureau's IT staff run the server with: log lines for journald and collectors.

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
