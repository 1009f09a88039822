//! The README's shell session, run as written against a real server: a newcomer's first
//! commands must work. Each command's answer must be a JSON success (no `error`), and where the
//! README shows the answer in a `# {…}` comment, every `"key":value` shown there must be in it.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::util::{demo_config_text, Server};

/// The commands of the README's `curl` session, each with the answer the README shows (if any).
fn session(readme: &str) -> Vec<(String, Option<String>)> {
    let start = readme.find("A short session with `curl`").expect("the README has its curl session");
    let block = &readme[start..];
    let block = &block[block.find("```sh\n").expect("a sh block") + 6..];
    let block = &block[..block.find("```").expect("the block ends")];
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(shown) = line.strip_prefix('#') {
            let last = out.last_mut().expect("an answer follows its command");
            last.1 = Some(shown.trim().to_string());
        } else {
            out.push((line.to_string(), None));
        }
    }
    out
}

/// The scalar `"key":value` pairs of an answer as the README shows it (`...` elides the rest).
fn shown_pairs(shown: &str) -> Vec<(String, Value)> {
    let mut pairs = Vec::new();
    let mut rest = shown;
    while let Some(i) = rest.find('"') {
        rest = &rest[i + 1..];
        let Some(j) = rest.find('"') else { break };
        let key = &rest[..j];
        rest = &rest[j + 1..];
        let Some(after) = rest.strip_prefix(':') else { continue };
        let end = if let Some(s) = after.strip_prefix('"') {
            s.find('"').map(|k| k + 2)
        } else {
            after.find([',', '}'])
        };
        let Some(end) = end else { break };
        let raw = &after[..end];
        if let Ok(v) = serde_json::from_str::<Value>(raw) {
            if !v.is_object() && !v.is_array() {
                pairs.push((key.to_string(), v));
            }
        }
        rest = &after[end..];
    }
    pairs
}

/// Does `v` hold `key: want` at any depth?
fn holds(v: &Value, key: &str, want: &Value) -> bool {
    match v {
        Value::Object(m) => m.get(key) == Some(want) || m.values().any(|x| holds(x, key, want)),
        Value::Array(a) => a.iter().any(|x| holds(x, key, want)),
        _ => false,
    }
}

/// Runs the session in one shell against `srv`; a problem per failed command.
fn run_session(srv: &Server, commands: &[(String, Option<String>)]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let mut script = String::from("set -u\n");
    for (i, (cmd, _)) in commands.iter().enumerate() {
        let cmd = cmd.replace("localhost:8080", &format!("127.0.0.1:{}", srv.port));
        // An assignment's answer is the variable it set.
        let show = match cmd.split_once("=$(") {
            Some((var, _)) if var.chars().all(|c| c.is_ascii_uppercase() || c == '_') => format!("; printf %s \"${var}\""),
            _ => String::new(),
        };
        script.push_str(&format!("{{ {cmd}{show} ; }} > {dir}/out{i} 2>/dev/null; echo $? > {dir}/rc{i}\n", dir = dir.path().display()));
    }
    let status = Command::new("bash").arg("-c").arg(&script).status().expect("bash");
    assert!(status.success(), "the session's shell failed");
    let mut problems = Vec::new();
    for (i, (cmd, shown)) in commands.iter().enumerate() {
        let rc = std::fs::read_to_string(dir.path().join(format!("rc{i}"))).unwrap();
        let out = std::fs::read_to_string(dir.path().join(format!("out{i}"))).unwrap();
        if rc.trim() != "0" {
            problems.push(format!("`{cmd}` exited with {}", rc.trim()));
            continue;
        }
        if cmd.contains("=$(") {
            if out.is_empty() || out.contains('{') {
                problems.push(format!("`{cmd}` set nothing useful: {out:?}"));
            }
            continue;
        }
        let v: Value = match serde_json::from_str(&out) {
            Ok(v) => v,
            Err(_) => {
                problems.push(format!("`{cmd}` answered no JSON: {out:?}"));
                continue;
            }
        };
        if v.get("error").is_some() {
            problems.push(format!("`{cmd}` was refused: {v}"));
            continue;
        }
        for (key, want) in shown.as_deref().map(shown_pairs).unwrap_or_default() {
            if !holds(&v, &key, &want) {
                problems.push(format!("`{cmd}` answered without \"{key}\":{want} as the README shows: {v}"));
            }
        }
    }
    problems
}

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).expect("README.md")
}

/// The README's session, as written, against the demo config during opening hours.
#[test]
fn readme_curl_session_works_as_written() {
    let commands = session(&readme());
    assert!(commands.len() >= 4, "{commands:?}");
    assert!(commands.iter().any(|(_, shown)| shown.as_deref().is_some_and(|s| !shown_pairs(s).is_empty())), "answers are shown");
    let srv = Server::start_at(&demo_config_text(), "2026-11-25T10:00:00+08:00");
    let problems = run_session(&srv, &commands);
    assert!(problems.is_empty(), "the README's session does not work as written:\n{}", problems.join("\n"));
}

/// The check catches a broken command: the first call without its JSON content type (as the
/// README once had it) is refused, and an answer that differs from what is shown is named.
#[test]
fn readme_check_fails_on_a_broken_command() {
    let mut commands = session(&readme());
    commands[0].0 = commands[0].0.replace(" -H 'Content-Type: application/json'", "");
    let srv = Server::start_at(&demo_config_text(), "2026-11-25T10:00:00+08:00");
    let problems = run_session(&srv, &commands);
    assert!(problems.iter().any(|p| p.contains("unsupported_media_type")), "{problems:?}");
    let mut wrong = session(&readme());
    wrong[0].1 = Some(r#"{"number":"B001"}"#.into());
    let srv = Server::start_at(&demo_config_text(), "2026-11-25T10:00:00+08:00");
    let problems = run_session(&srv, &wrong);
    assert!(problems.iter().any(|p| p.contains(r#""number":"B001""#)), "{problems:?}");
}
