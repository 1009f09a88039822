//! A hall as the duty leader sees it (`/api/v1/overview`), from the state a server holds: its
//! own hall's, or, at a hall edge, what it sends the core.

use std::collections::BTreeMap;

use qcall_wire as wire;

use crate::config::Config;
use crate::domain::{Millis, TicketState};
use crate::engine::Core;
use crate::view;

/// A hall as the duty leader sees it, from the state held here. `texts`: today's text
/// messages about its tickets (sent, failed).
pub fn hall(cfg: &Config, core: &Core, h: usize, now: Millis, texts: Option<(u32, u32)>) -> wire::HallOverview {
    let st = &core.state;
    let topo = st.topology();
    let today = st.day();
    let mut longest_wait_s = BTreeMap::new();
    let (mut waiting, mut served, mut no_shows) = (0, 0, 0);
    let mut ratings: BTreeMap<String, u32> = (1..=5).map(|n: u8| (n.to_string(), 0)).collect();
    let mut remote = wire::RemoteCounts::default();
    for t in st.tickets().filter(|t| t.issued_hall == h && t.day == today) {
        let Some(r) = &t.remote else { continue };
        match (t.state, r.arrived_at.is_some(), t.held()) {
            (_, true, _) => remote.checked_in += 1,
            (TicketState::Waiting, false, true) => remote.held += 1,
            (TicketState::Waiting, false, false) => remote.away += 1,
            (TicketState::NoShow, false, _) => remote.lapsed += 1,
            _ => {}
        }
    }
    for t in st.tickets().filter(|t| t.hall == h && t.day == today) {
        match t.state {
            TicketState::Waiting => {
                waiting += 1;
                let waited = ((now - t.issued_at).max(0) / 1000) as u32;
                let e = longest_wait_s.entry(topo.services[t.service].id.clone()).or_insert(0);
                *e = (*e).max(waited);
            }
            TicketState::Finished => served += 1,
            TicketState::NoShow => no_shows += 1,
            _ => {}
        }
        if let Some(r) = t.rating {
            *ratings.entry(r.to_string()).or_insert(0) += 1;
        }
    }
    let clerks = topo
        .counters
        .iter()
        .enumerate()
        .filter(|(_, c)| c.hall == h)
        .filter_map(|(ix, c)| {
            let id = st.counter(ix).clerk.clone()?;
            let name = cfg.clerk(&id).map(|k| k.name.clone()).unwrap_or_default();
            let signed_in = core.sessions.values().any(|x| x.counter == ix && x.clerk == id);
            Some((c.id.clone(), wire::ClerkOnDuty { id, name, signed_in }))
        })
        .collect();
    let devices = cfg
        .devices
        .iter()
        .filter(|d| d.hall == Some(h))
        .map(|d| {
            let seen = core.device_seen.get(&d.id).copied();
            wire::DeviceOverview {
                device: d.id.clone(),
                name: d.name.clone(),
                kind: d.kind.name().to_string(),
                status: core.devices.get(&d.id).map(|(_, st)| st.clone()),
                last_seen: seen.map(view::time),
                online: seen.map(|t| now - t <= cfg.alerts.device_offline_ms),
            }
        })
        .collect();
    let busy: std::collections::HashSet<&str> = (0..topo.counters.len()).filter_map(|c| st.counter(c).clerk.as_deref()).collect();
    let can_open = topo
        .counters
        .iter()
        .enumerate()
        .filter(|(ix, c)| c.hall == h && st.counter(*ix).state == crate::domain::CounterState::Closed)
        .map(|(ix, c)| {
            let clerks = cfg
                .clerks
                .iter()
                .filter(|k| k.may_sit_at(ix) && !busy.contains(k.id.as_str()))
                .map(|k| wire::ClerkOnDuty { id: k.id.clone(), name: k.name.clone(), signed_in: false })
                .collect();
            (c.id.clone(), clerks)
        })
        .collect();
    wire::HallOverview {
        can_open,
        hall: view::hall(&core.state, &core.devices, &cfg.public_base_url, h, now),
        longest_wait_s,
        waiting,
        served_today: served,
        no_shows_today: no_shows,
        ratings_today: ratings,
        clerks,
        devices,
        remote,
        texts: texts.map(|(sent, failed)| wire::TextCounts { sent, failed }).unwrap_or_default(),
        what_if: st
            .forecast_of(h, now)
            .and_then(|f| f.what_if)
            .filter(|w| waiting > cfg.alerts.queue_length && st.counter(w.counter).state == crate::domain::CounterState::Closed)
            .map(|w| wire::WhatIf {
                counter: topo.counters[w.counter].id.clone(),
                counter_number: topo.counters[w.counter].number,
                service: topo.services[w.service].id.clone(),
                before_s: ((w.before_ms + 999) / 1000) as u32,
                after_s: ((w.after_ms + 999) / 1000) as u32,
                text: crate::alerts::what_if_text(topo, &w),
            }),
    }
}
