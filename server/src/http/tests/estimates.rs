//! The forked estimator at run time: a round of the forecast worker publishes what tickets
//! are told, the screens hear of it, issuing uses it, and the duty leader sees the what-if.

use super::*;
use crate::domain::estimate::Estimator;

fn forked(queue_length: u32) -> Rig {
    Rig::with(|cfg, _| {
        let mut t = (*cfg.topology).clone();
        t.estimates.estimator = Estimator::Forked;
        cfg.topology = Arc::new(t);
        cfg.alerts.queue_length = queue_length;
    })
}

async fn east(r: &Rig) -> wire::HallInfo {
    serde_json::from_value(r.ok("GET", "/api/v1/halls/east", None, None).await).unwrap()
}

#[tokio::test]
async fn a_forecast_tells_tickets_and_screens_a_range_and_issuing_uses_it() {
    let r = forked(100);
    r.sign_in("clerk01", "E01").await;
    let mut events = r.app.state.engine.shared.events.subscribe();
    let mut tickets = vec![];
    for _ in 0..12 {
        tickets.push(r.issue("east", "filing").await);
    }
    // No forecast yet: the forward estimate, and no range (only forks give one).
    let last = tickets.last().unwrap();
    assert!(last.est_wait_s > 0 && last.est_wait_range_s.is_none(), "{last:?}");

    let f = crate::forecast::refresh(&r.app.state.forecaster(), 0).await.expect("published");
    let filing = r.app.state.cfg.topology.service_ix("filing").unwrap();
    let new = f.new[filing].expect("east serves filing");
    // The screens hear of it: an event with the hall's queues, the new ticket's range in them.
    let msg = loop {
        let b = events.recv().await.unwrap();
        if b.msg.kind == wire::EventKind::EstimatesChanged {
            break b.msg.clone();
        }
    };
    assert_eq!(msg.hall.as_deref(), Some("east"));
    let q = msg.queues.iter().find(|q| q.service == "filing").unwrap();
    assert_eq!(i64::from(q.est_wait_s), (new.wait_ms + 999) / 1000);
    let [low, high] = q.est_wait_range_s.expect("a long wait: a range");
    assert!(i64::from(low) * 1000 <= new.low_ms && i64::from(high) * 1000 >= new.high_ms && low < q.est_wait_s && q.est_wait_s < high, "{q:?}");
    assert_eq!(east(&r).await.services.iter().find(|s| s.id == "filing").unwrap().est_wait_range_s, Some([low, high]));

    // A waiting ticket is told its own forks' figure; one taken now what a new one was.
    let v: wire::Ticket = serde_json::from_value(r.ok("GET", &format!("/api/v1/tickets/{}", last.id), None, None).await).unwrap();
    let told = f.tickets[&last.id];
    assert_eq!(i64::from(v.est_wait_s), (told.wait_ms + 999) / 1000);
    assert!(v.est_wait_range_s.is_some());
    let taken = r.issue("east", "filing").await;
    assert_eq!((taken.est_wait_s, taken.est_wait_range_s), (q.est_wait_s, Some([low, high])), "issuing used the latest forecast");

    // The same figures again: nothing new for the screens.
    let before = r.app.state.engine.shared.committed_seq.load(std::sync::atomic::Ordering::Relaxed);
    r.app.state.engine.submit(crate::engine::Request::Forecast(f.clone())).await.unwrap();
    assert_eq!(r.app.state.engine.shared.committed_seq.load(std::sync::atomic::Ordering::Relaxed), before);

    // Three minutes and more without a new forecast: the forward estimate again, no range.
    r.clock.advance(crate::domain::estimate::FORECAST_STALE_MS + 60_000);
    assert_eq!(east(&r).await.services.iter().find(|s| s.id == "filing").unwrap().est_wait_range_s, None);
}

#[tokio::test]
async fn a_long_queue_shows_the_duty_leader_what_opening_a_counter_would_change() {
    let r = forked(10);
    r.sign_in("clerk01", "E01").await;
    for _ in 0..25 {
        r.issue("east", "filing").await;
    }
    let f = crate::forecast::refresh(&r.app.state.forecaster(), 0).await.expect("published");
    let w = f.what_if.expect("25 waiting over a limit of 10");
    assert!(w.after_ms < w.before_ms, "{w:?}");
    let o: wire::Overview = serde_json::from_value(r.ok("GET", "/api/v1/overview", Some("demo-supervisor"), None).await).unwrap();
    let east = o.halls.iter().find(|h| h.hall.id == "east").unwrap();
    let shown = east.what_if.as_ref().expect("shown to the duty leader");
    assert_eq!(shown.service, "filing");
    let (b, a) = (shown.before_s.div_ceil(60), shown.after_s.div_ceil(60));
    assert!(shown.text.starts_with(&format!("开启 {}号窗口：新取号预计等候 {b}→{a} 分钟", shown.counter_number)), "{}", shown.text);
    assert!(a < b, "{}", shown.text);
    // The long-queue alert names the same counter and change.
    let mut events = r.app.state.engine.shared.events.subscribe();
    r.app.state.engine.submit(crate::engine::Request::CheckAlerts(r.app.state.cfg.alerts.clone())).await.unwrap();
    let b2 = events.recv().await.unwrap();
    let wire::EventKind::AlertRaised { alert } = &b2.msg.kind else { panic!("{:?}", b2.msg.kind) };
    assert_eq!(alert.counter.as_deref(), Some(shown.counter.as_str()));
    assert!(alert.advice.as_deref().unwrap().contains(&format!("新取号预计等候 {b}→{a} 分钟")), "{alert:?}");
    // West has nobody waiting: no what-if there.
    assert!(o.halls.iter().find(|h| h.hall.id == "west").unwrap().what_if.is_none());
}
