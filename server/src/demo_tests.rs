//! The core's simulator and period report with the demo deployment (`config/qcall.toml`,
//! `config/profiles/`), whose topology only the server's config reads.

mod sim {
    use std::sync::Arc;

    use chrono::NaiveDate;
    use qcall_core::domain::Topology;
    use qcall_core::sim::*;

    fn setup(profile: &str, seed: u64) -> (Arc<Topology>, Setup) {
        let cfg = crate::config::Config::embedded().unwrap();
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../config/profiles/{profile}.toml"));
        let profile = crate::sim_store::load_profile(&path, &cfg.topology).unwrap();
        let first_day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        (cfg.topology.clone(), Setup { profile, days: 1, seed, first_day, counters_per_hall: None, forks: 0, forked: false, fork_quantile: 0.6, learnt_arrivals: false, what_ifs: false })
    }

    #[test]
    fn the_same_seed_gives_the_same_report_and_another_seed_another() {
        let (topo, s) = setup("ordinary-day", 7);
        let a = Report::new(&topo, &s, &run(&topo, &s));
        let b = Report::new(&topo, &s, &run(&topo, &s));
        assert_eq!(a, b);
        assert!(a.halls.iter().all(|h| h.tickets > 300), "{a:?}");
        let (_, s8) = setup("ordinary-day", 8);
        assert_ne!(Report::new(&topo, &s8, &run(&topo, &s8)).halls, a.halls);
    }

    #[test]
    fn staffing_never_asks_for_fewer_counters_when_the_target_gets_stricter() {
        let (topo, s) = setup("short-staffed", 3);
        let table = staffing::Table::measure(&topo, &s);
        let need = |target_min: f64| table.advice(target_min * 60_000.0);
        let (loose, mid, strict) = (need(40.0), need(20.0), need(5.0));
        let more = |a: Option<usize>, b: Option<usize>| b.unwrap_or(usize::MAX) >= a.unwrap_or(usize::MAX);
        let mut asked = 0;
        for h in 0..loose.halls.len() {
            for (hour, l) in &loose.halls[h].2 {
                let (m, st) = (mid.halls[h].2[hour], strict.halls[h].2[hour]);
                assert!(more(*l, m) && more(m, st), "hall {h} {hour}:00: {l:?} {m:?} {st:?}");
                asked += usize::from(st != *l);
            }
        }
        assert!(asked > 0, "the targets must make a difference somewhere");
        // With each hour needing two counters or more goes the what-if of the day with one
        // fewer: the next counter shortens a new ticket's wait.
        let mut told = 0;
        for h in 0..mid.halls.len() {
            for (hour, (before, after)) in &mid.what_if[h] {
                assert!(mid.halls[h].2[hour].is_some_and(|k| k >= 2), "hall {h} {hour}:00");
                assert!(after <= before, "hall {h} {hour}:00: {before} -> {after}");
                told += usize::from(after < before);
            }
        }
        assert!(told > 0, "{}", mid.text());
        assert!(mid.text().contains(" min if one more opens then)"), "{}", mid.text());
    }

    #[test]
    fn a_transferred_ticket_that_nobody_answers_for_is_marked_a_no_show_and_the_counter_goes_on() {
        // Every other service ends in a transfer and every other call is never answered: a
        // transferred ticket called again must be able to be a no-show like any other.
        let cfg = crate::config::Config::embedded().unwrap();
        let text = "tickets_per_hall = 40\nintensity = { \"09:00\" = 1.0, \"11:00\" = 0.0 }\n\
                    no_show_share = 0.5\ntransfer_share = 0.5\n[services]\nfiling = { share = 1, mean_s = 60 }\n";
        let profile = Profile::parse(text, "p.toml", "p", &cfg.topology).unwrap();
        let first_day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        let s = Setup { profile, days: 1, seed: 5, first_day, counters_per_hall: None, forks: 0, forked: false, fork_quantile: 0.6, learnt_arrivals: false, what_ifs: false };
        let out = run(&cfg.topology, &s);
        assert!(out.tickets.len() > 60, "{}", out.tickets.len());
        let uncalled = out.tickets.iter().filter(|t| t.called_at.is_none()).count();
        assert_eq!(uncalled, 0, "every ticket of a light morning is called");
        assert_eq!(out.held_at_day_end, 0, "no counter was left waiting for a taxpayer all day");
    }

    /// A morning of 一窗式 counters and nothing but arrivals and services: no 绿色通道, no
    /// no-shows, transfers or pauses.
    fn plain_morning(spread: f64, forks: u32) -> (Arc<Topology>, Setup) {
        let cfg = crate::config::Config::embedded().unwrap();
        let text = format!(
            "tickets_per_hall = 120\nintensity = {{ \"09:00\" = 1.0, \"09:45\" = 0.0 }}\none_window = true\n\
             [services]\nfiling = {{ share = 0.5, mean_s = 240, spread = {spread} }}\ninvoice = {{ share = 0.5, mean_s = 180, spread = {spread} }}\n"
        );
        let profile = Profile::parse(&text, "p.toml", "p", &cfg.topology).unwrap();
        let first_day = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        (cfg.topology.clone(), Setup { profile, days: 1, seed: 3, first_day, counters_per_hall: None, forks, forked: false, fork_quantile: 0.6, learnt_arrivals: false, what_ifs: false })
    }

    #[test]
    fn the_bound_is_nought_where_nothing_after_issue_changes_a_wait_and_under_every_estimator_otherwise() {
        // Fixed service times at counters that serve in turn: what comes after a ticket's
        // issue never changes its wait, so every fork waits as long as the day did.
        let (topo, s) = plain_morning(0.0, 2);
        let out = run(&topo, &s);
        let b = Report::new(&topo, &s, &out).bound.unwrap();
        assert!(b.tickets > 150, "{}", b.tickets);
        assert_eq!((b.median.mae_min, b.median.under_by_5_min, b.least_mae_min), (0.0, 0.0, 0.0));
        let t = out.tickets.iter().find(|t| t.called_at.is_some_and(|c| c - t.issued_at > 60_000)).unwrap();
        assert_eq!(t.forked.as_ref().unwrap(), &vec![t.called_at.unwrap() - t.issued_at; 2]);
        // Service times that vary: the forks wait differently, and no estimator comes as close.
        let (topo, s) = plain_morning(0.6, 2);
        let r = Report::new(&topo, &s, &run(&topo, &s));
        let b = r.bound.unwrap();
        assert!(b.median.mae_min > 0.2, "{b:?}");
        assert!(b.least_mae_min >= b.median.mae_min - 1e-9, "{b:?}");
        for e in &r.estimators {
            assert!(e.at_issue.mae_min > b.median.mae_min, "{} {:?} against {b:?}", e.estimator, e.at_issue);
        }
        // Without forks there is no bound.
        let (topo, s) = plain_morning(0.6, 0);
        assert_eq!(Report::new(&topo, &s, &run(&topo, &s)).bound, None);
    }

    #[test]
    fn profiles_name_their_field_when_wrong() {
        let cfg = crate::config::Config::embedded().unwrap();
        let e = Profile::parse("tickets_per_hall = 10\nintensity = { \"09:07\" = 1 }\n[services]\nfiling = { share = 1, mean_s = 60 }\n", "p.toml", "p", &cfg.topology)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml: field `intensity`"), "{e}");
        let e = Profile::parse("tickets_per_hall = 10\nintensity = { \"09:00\" = 1 }\n[services]\ntaxi = { share = 1, mean_s = 60 }\n", "p.toml", "p", &cfg.topology)
            .unwrap_err()
            .to_string();
        assert!(e.contains("services.taxi") && e.contains("no such service"), "{e}");
    }
}

mod report {
    use chrono::NaiveDate;
    use qcall_core::report::*;

    fn row(day: &str, counter: &str, issued_min: i64, wait_min: Option<i64>, state: &str, rating: Option<u8>) -> Row {
        let t0 = chrono::DateTime::parse_from_rfc3339(&format!("{day}T09:00:00+08:00")).unwrap().timestamp_millis();
        let issued_at = t0 + issued_min * 60_000;
        Row {
            day: day.parse().unwrap(),
            hall: "east".into(),
            service: "filing".into(),
            counter: Some(counter.into()),
            clerk: Some("clerk01".into()),
            issued_at,
            called_at: wait_min.map(|w| issued_at + w * 60_000),
            finished_at: wait_min.map(|w| issued_at + (w + 4) * 60_000),
            state: state.into(),
            rating,
        }
    }

    #[test]
    fn the_tables_the_days_the_waits_and_the_weekday_hours_add_up() {
        let cfg = crate::config::Config::embedded().unwrap();
        let clerk = |id: &str| cfg.clerk(id).map(|c| c.name.clone());
        let names = Names { topo: &cfg.topology, clerk: &clerk };
        // Ten tickets waiting 1..=10 minutes (p90: 9), one no-show, two 差评.
        let mut rows: Vec<Row> = (1..=10).map(|w| row("2026-11-30", "E01", w, Some(w), "finished", None)).collect();
        rows[0].rating = Some(1);
        rows[1].rating = Some(2);
        rows[2].rating = Some(5);
        rows.push(row("2026-11-30", "E01", 70, Some(30), "no_show", None));
        rows.push(row("2026-12-01", "E02", 0, None, "waiting", None));
        let history = vec![row("2026-11-23", "E01", 0, Some(20), "finished", None), row("2026-11-16", "E01", 5, Some(10), "finished", None)];
        let pauses = vec![("east".to_string(), "E01".to_string(), Some("clerk01".to_string()), 600)];
        let from: NaiveDate = "2026-11-30".parse().unwrap();
        let s = summarise(&rows, &pauses, &history, from, from + chrono::Duration::days(1), &names, None);
        let e01 = s.by_counter.iter().find(|r| r.key == "E01").unwrap();
        assert_eq!((e01.issued, e01.served, e01.no_shows, e01.bad, e01.pause_s), (11, 10, 1, 2, Some(600)));
        assert_eq!(e01.p90_wait_s, Some(10 * 60), "p90 of 1..=10 and 30 minutes");
        assert_eq!(e01.mean_service_s, Some(240));
        assert_eq!(s.by_hall[0].issued, 12);
        assert_eq!(s.by_clerk[0].name, "王芳");
        assert_eq!(s.per_day.iter().map(|d| (d.issued, d.served)).collect::<Vec<_>>(), [(11, 10), (1, 0)]);
        assert_eq!(s.waits[0].tickets, 4, "waits of 1-4 minutes");
        assert_eq!(s.waits[6].tickets, 1, "the 30-minute wait");
        assert_eq!(s.waits.iter().map(|b| b.tickets).sum::<u32>(), 11);
        assert_eq!(s.day_hours.len(), 24);
        assert_eq!(s.day_hours[9].issued, 1, "the last day's one ticket at 09:00");
        assert_eq!((s.weekday_hours[9].issued, s.weekday_hours[9].mean_wait_s), (0.5, Some(15 * 60)));
        assert_eq!((s.totals.issued, s.totals.served, s.totals.bad, s.totals.pause_s), (12, 10, 2, Some(600)));
        // The demo halls open 09:00-12:00 and 13:30-17:00: hours 9-11 and 13-16.
        assert_eq!(s.open_hours, [9, 10, 11, 13, 14, 15, 16]);
    }

    /// Working days only: a weekend without tickets is left out, one with tickets is kept.
    #[test]
    fn the_days_are_working_days_and_those_with_tickets() {
        let cfg = crate::config::Config::embedded().unwrap();
        let clerk = |_: &str| None;
        let names = Names { topo: &cfg.topology, clerk: &clerk };
        // Friday 2026-11-27 to Monday 2026-11-30; a ticket on Sunday (a 调休 worked, say).
        let rows = vec![row("2026-11-27", "E01", 0, Some(5), "finished", None), row("2026-11-29", "E01", 0, Some(5), "finished", None)];
        let from: NaiveDate = "2026-11-27".parse().unwrap();
        let s = summarise(&rows, &[], &[], from, from + chrono::Duration::days(3), &names, Some(0));
        assert_eq!(s.per_day.iter().map(|d| d.day.as_str()).collect::<Vec<_>>(), ["2026-11-27", "2026-11-29", "2026-11-30"]);
    }
}
