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
