//! `qcall simulate` through the binary: a report that the seed decides, and thirty business
//! days of three halls through the real engine and SQLite store with restarts.

use std::process::Command;

use crate::util::bin;

fn profile(name: &str) -> String {
    format!("{}/../config/profiles/{name}.toml", env!("CARGO_MANIFEST_DIR"))
}

fn simulate(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin("qcall")).arg("simulate").args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_same_seed_gives_the_same_report_and_the_last_json_line_holds_the_estimators() {
    let p = profile("one-window");
    let (ok, a, err) = simulate(&["--profile", &p, "--seed", "5", "--json"]);
    assert!(ok, "{err}");
    let (_, b, _) = simulate(&["--profile", &p, "--seed", "5", "--json"]);
    assert_eq!(a, b);
    let last: serde_json::Value = serde_json::from_str(a.lines().last().unwrap()).unwrap();
    let names: Vec<&str> = last.as_array().unwrap().iter().map(|e| e["estimator"].as_str().unwrap()).collect();
    assert_eq!(names, ["simple", "forward"]);
    for e in last.as_array().unwrap() {
        for key in ["mae_min", "p90_abs_min", "bias_min", "within_5_min", "under_by_5_min"] {
            assert!(e["at_issue"][key].is_number() && e["after_10_min"][key].is_number(), "{key} in {e}");
        }
        println!("MEASURE simulate one-window seed 5: {e}");
    }
    let (_, c, _) = simulate(&["--profile", &p, "--seed", "6", "--json"]);
    assert_ne!(a, c, "another seed, another day");
    // A profile naming a service the config does not have is refused with the field.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "tickets_per_hall = 10\nintensity = { \"09:00\" = 1 }\n[services]\ntaxi = { share = 1, mean_s = 60 }\n").unwrap();
    let (ok, _, err) = simulate(&["--profile", bad.to_str().unwrap()]);
    assert!(!ok && err.contains("bad.toml: field `services.taxi`"), "{err}");
}

/// 30 business days (weekends skipped, every day rolled over) of three halls: every command
/// goes through the engine into SQLite too, and every 500 commands the database is reloaded
/// from disk and compared with the state in memory.
#[test]
fn thirty_business_days_of_three_halls_go_through_the_real_store_and_reload_equal() {
    let dir = tempfile::tempdir().unwrap();
    let light = dir.path().join("light.toml");
    std::fs::write(
        &light,
        r#"tickets_per_hall = 30
intensity = { "09:00" = 1.6, "11:00" = 1.0, "12:00" = 0.0, "13:30" = 0.7, "14:00" = 1.5, "16:00" = 0.7 }
priority_share = 0.1
no_show_share = 0.1
recall_share = 0.1
transfer_share = 0.1
[services]
filing = { share = 0.4, mean_s = 260 }
invoice = { share = 0.3, mean_s = 200 }
registration = { share = 0.12, mean_s = 450 }
consulting = { share = 0.18, mean_s = 320 }
[staff]
pauses_per_counter = 1.0
close = [{ counters = 1, at = "15:00" }]
"#,
    )
    .unwrap();
    let db = dir.path().join("sim.db");
    let (ok, out, err) = simulate(&["--profile", light.to_str().unwrap(), "--days", "30", "--store", db.to_str().unwrap(), "--restart-every", "500"]);
    assert!(ok, "{err}");
    let line = err.lines().find(|l| l.starts_with("store run:")).unwrap_or_else(|| panic!("{err}"));
    assert!(line.ends_with("every loaded state equal to memory"), "{line}");
    let commands: u64 = line.split_whitespace().nth(2).unwrap().parse().unwrap();
    let restarts: u64 = line.split(", ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert!(commands > 10_000 && restarts >= commands / 500, "{line}");
    assert!(out.contains("30 day(s)"), "{out}");
    println!("MEASURE {line}");
    // The database is not overwritten by a second run.
    let (ok, _, err) = simulate(&["--profile", light.to_str().unwrap(), "--store", db.to_str().unwrap()]);
    assert!(!ok && err.contains("already exists"), "{err}");
}

/// `--bound N`: the day forked at every ticket's issue, the rest drawn anew; the text names the
/// least error any estimate could reach, and the JSON report carries it (below the forward
/// estimator's, which knows less).
#[test]
fn the_bound_is_reported_in_text_and_json_and_no_estimator_beats_it() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("morning.toml");
    std::fs::write(
        &p,
        "tickets_per_hall = 90\nintensity = { \"09:00\" = 1.0, \"09:45\" = 0.0 }\npriority_share = 0.05\nno_show_share = 0.05\n\
         transfer_share = 0.05\n[services]\nfiling = { share = 0.6, mean_s = 300 }\ninvoice = { share = 0.4, mean_s = 200 }\n",
    )
    .unwrap();
    let p = p.to_str().unwrap();
    let (ok, text, err) = simulate(&["--profile", p, "--bound", "2"]);
    assert!(ok, "{err}");
    let line = text.lines().skip_while(|l| !l.starts_with("bound (")).collect::<Vec<_>>().join(" ");
    assert!(line.contains("each day forked 2 times") && line.contains("no estimate has an MAE under"), "{text}");
    let (ok, json, err) = simulate(&["--profile", p, "--bound", "2", "--json"]);
    assert!(ok, "{err}");
    let report: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
    let bound = &report["bound"];
    assert_eq!(bound["forks"], 2);
    let least = bound["least_mae_min"].as_f64().unwrap();
    let forward = report["estimators"].as_array().unwrap().iter().find(|e| e["estimator"] == "forward").unwrap();
    let forward_mae = forward["at_issue"]["mae_min"].as_f64().unwrap();
    assert!(bound["tickets"].as_u64().unwrap() > 100 && bound["median"]["mae_min"].as_f64().unwrap() < forward_mae, "{bound} against {forward}");
    println!("MEASURE bound on a short morning: forward MAE {forward_mae:.2}, least any estimate could reach {least:.2}");
    // Without --bound the report has none.
    let (_, plain, _) = simulate(&["--profile", p, "--json"]);
    assert!(serde_json::from_str::<serde_json::Value>(plain.lines().next().unwrap()).unwrap().get("bound").is_none());
}
