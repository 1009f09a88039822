//! A hall edge (`[edge]`): a hall's own server, the authority of its hall's numbering, forwards
//! its event log to the core as it commits.
//!
//! The log is the `events` table: written in each batch's transaction, in order, `seq` without
//! gaps — the outbox. The core answers the highest `seq` it holds; the uploader sends what
//! follows (the events, and the rows of the tickets they name as they are now), in order, and
//! after any failure asks again and goes on from there. So every event reaches the core at
//! least once, and the core, skipping what it holds, stores each once.
//!
//! Down, the edge follows the core's feed for its hall (`GET …/feed?since=`): the bookings
//! made at the core and their cancellations, the hall's publicity, each applied once in
//! the writer's transaction that records how far the feed was applied; and the other halls
//! as the core sees them (the kiosks' 区域通办 panel; cut off with the link).

use std::sync::Arc;
use std::time::Duration;

use qcall_client::{Client, ClientError, ClientOptions};
use qcall_wire as wire;

use crate::clock::Clock;
use crate::config::{Config, Edge};
use crate::engine::Engine;
use crate::store::{Db, DbError};

/// Events per upload, at most.
pub const UPLOAD_EVENTS: u32 = 200;
/// A caught-up edge still tells the core it is there this often (an empty upload).
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// The longest wait between attempts while the core cannot be reached (the link is back in
/// the overview at most this long plus [`UPLOAD_TIMEOUT`] after it heals).
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// An upload not answered this long has failed (a dead link answers nothing).
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(5);

/// What the uploader works with.
pub struct Uplink {
    pub edge: Edge,
    pub cfg: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    /// The read connection (the events and tickets are read there, off the writer).
    pub reader: Arc<parking_lot::Mutex<Db>>,
    /// Its commits wake the uploader.
    pub engine: Engine,
    /// The link as `/healthz` shows it.
    pub status: Arc<parking_lot::Mutex<Option<wire::UpstreamHealth>>>,
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// The next upload after `held`: the events, and the rows of the tickets they name (a
/// rollover names the tickets of the day it ended); and today's texts about the hall's
/// tickets (sent, failed), for its overview.
pub(crate) fn next_upload(db: &mut Db, held: u64, day: String, hall: String) -> Result<(wire::EdgeUpload, Option<(u32, u32)>), DbError> {
    let texts = crate::queries::texts_of_day(db, &day)?.get(&hall).copied();
    let events = crate::queries::events_after(db, held, UPLOAD_EVENTS)?;
    let mut ids = std::collections::BTreeSet::new();
    for e in &events {
        let Ok(msg) = serde_json::from_str::<wire::StreamMessage>(&e.body) else { continue };
        if let Some(id) = msg.kind.ticket_id() {
            ids.insert(id);
        }
        if let wire::EventKind::DayRolledOver { day, .. } = &msg.kind {
            ids.extend(crate::queries::ticket_ids_of_last_day_before(db, day)?);
        }
    }
    let tickets = crate::queries::ticket_rows_by_id(db, "tickets", &ids.into_iter().collect::<Vec<_>>())?;
    Ok((wire::EdgeUpload { events, tickets, hall: None }, texts))
}

/// Runs off the async threads, on the read connection.
async fn read<T: Send + 'static>(
    reader: &Arc<parking_lot::Mutex<Db>>,
    f: impl FnOnce(&mut Db) -> Result<T, DbError> + Send + 'static,
) -> Result<T, String> {
    let reader = reader.clone();
    match tokio::task::spawn_blocking(move || f(&mut reader.lock())).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// How long the core holds a feed request open when it has nothing to send.
const FEED_WAIT_S: u32 = 5;

/// Follows the core's feed for the hall; ends when the server stops. A change of the core's
/// config is fetched and kept, to be applied at the next start (`/healthz` says so).
fn spawn_feed(u: &Uplink, client: Client, hall: String) {
    let engine = u.engine.clone();
    let mut shutdown = u.shutdown.clone();
    let (running, cache, status, edge) = (u.cfg.core_config.clone(), u.cfg.core_cache.clone(), u.status.clone(), u.edge.clone());
    let mut kept = running.clone();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(250);
        loop {
            if *shutdown.borrow() {
                break;
            }
            let held = engine.shared.core.read().await.feed.get(&usize::MAX).copied().unwrap_or(0);
            let r = tokio::select! {
                r = client.edge_feed(&hall, held, FEED_WAIT_S) => r,
                _ = shutdown.wait_for(|stop| *stop) => break,
            };
            match r {
                Ok(feed) => {
                    backoff = Duration::from_millis(250);
                    if let Some(cache) = cache.as_ref().filter(|_| !feed.config.is_empty() && kept.as_deref() != Some(feed.config.as_str())) {
                        match fetch_core_config(&edge, &hall, cache.clone()).await {
                            Ok(v) => {
                                tracing::warn!(version = %v, "the core's config changed: kept here, applied at this server's next start");
                                if let Some(s) = status.lock().as_mut() {
                                    s.config_pending = (running.as_deref() != Some(v.as_str())).then(|| v.clone());
                                }
                                kept = Some(v);
                            }
                            Err(e) => tracing::warn!(error = %e, "the core's new config could not be fetched"),
                        }
                    }
                    if let Err(e) = engine.submit(crate::engine::Request::Feed(Box::new(feed))).await {
                        tracing::warn!(error = %e, "the core's feed was not applied; asking again");
                        tokio::time::sleep(backoff).await;
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %e, "the core's feed cannot be read");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.wait_for(|stop| *stop) => break,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    });
}

/// The edge's client of the core for what a person waits on (a transfer): answered within
/// [`UPLOAD_TIMEOUT`] or failed.
pub fn core_client(e: &Edge) -> Result<Client, ClientError> {
    let opts = ClientOptions { ca_file: e.ca_file.clone(), timeout: Some(UPLOAD_TIMEOUT), connect_timeout: Duration::from_secs(2) };
    Ok(Client::new(&e.upstream, &opts)?.with_token(&e.token))
}

/// A hall edge's config at its start: the core's config for its halls (fetched now, else the
/// copy kept from the last time) with the edge file's own sections; without either, the
/// edge's file alone. A copy fetched is kept beside the database.
pub async fn config_at_start(ef: &crate::config::EdgeFile) -> Result<Config, crate::config::ConfigError> {
    match fetch_core_config(&ef.edge, &ef.hall, ef.cache.clone()).await {
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "the core's config could not be fetched: using the copy kept here, if any"),
    }
    let mut cfg = match std::fs::read_to_string(&ef.cache) {
        Ok(core) => crate::config::merge_edge(&core, ef)?,
        Err(_) => Config::parse(&ef.text, &ef.file)?,
    };
    cfg.core_cache = Some(ef.cache.clone());
    Ok(cfg)
}

/// Fetches the core's config for its halls into `cache` (written whole, then renamed).
/// Returns its version.
async fn fetch_core_config(e: &Edge, hall: &str, cache: std::path::PathBuf) -> Result<String, String> {
    let client = core_client(e).map_err(|x| x.to_string())?;
    let c = client.edge_config(hall).await.map_err(|x| x.to_string())?;
    blocking(move || {
        let tmp = cache.with_extension("toml.new");
        std::fs::write(&tmp, &c.text).and_then(|()| std::fs::rename(&tmp, &cache)).map_err(|x| format!("{}: {x}", cache.display()))?;
        Ok(c.version)
    })
    .await
}

/// Numbers a rebuilt hall server leaves unused above the last one the core holds (those the
/// dead box may have printed and never forwarded), for the rest of that day.
pub const RESTORE_SKIP: u32 = 100;

/// Before a hall edge serves: when the core holds more of the hall's log than this server's
/// store (a spare box with an empty database, or one put back from an older backup), the rest
/// comes from the core's copy (the events with their `seq`, the rows of today's tickets), so
/// the hall's numbering and log go on from where the core last heard them, and no `seq` is
/// written twice. Without the core (a cut at start) the server starts from its own store.
/// Returns the events taken.
pub async fn catch_up(cfg: &Config) -> Result<u64, String> {
    let Some(e) = &cfg.edge else { return Ok(0) };
    let hall = cfg.topology.halls[e.hall].id.clone();
    let client = core_client(e).map_err(|x| x.to_string())?;
    let held = match client.edge_held(&hall).await {
        Ok(h) => h.held,
        Err(x) => {
            tracing::warn!(error = %x, "the core cannot be reached: starting from this server's own store");
            return Ok(0);
        }
    };
    let at = cfg.store();
    let topo = cfg.topology.clone();
    let mut local = blocking(move || {
        let mut store = crate::store::Store::open(&at, topo).map_err(|x| x.to_string())?;
        store.read(|db| db.query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])?.get::<u64>(0)).map_err(|x| x.to_string())
    })
    .await?;
    if held <= local {
        return Ok(0);
    }
    tracing::warn!(held, local, "the core holds more of this hall's log than this server: taking the rest from the core's copy");
    let first = local;
    let own = hall.clone();
    while local < held {
        let copy = client.edge_copy(&hall, local).await.map_err(|x| format!("the core's copy: {x}"))?;
        let Some(last) = copy.events.last().map(|x| x.seq) else { break };
        let (at, topo) = (cfg.store(), cfg.topology.clone());
        // Numbering goes on RESTORE_SKIP above the last number the core holds, per service.
        let mut after = vec![0u32; topo.services.len()];
        for t in copy.tickets.iter().filter(|t| t.issued_hall == own && t.day == copy.day) {
            if let Some(s) = topo.service_ix(&t.issued_service) {
                after[s] = after[s].max(t.seq);
            }
        }
        let restored = serde_json::json!({"day": copy.day, "after": after.iter().map(|n| n + RESTORE_SKIP).collect::<Vec<_>>()}).to_string();
        blocking(move || {
            let mut store = crate::store::Store::open(&at, topo).map_err(|x| x.to_string())?;
            store
                .read(|db| {
                    db.transaction(|db| {
                        for ev in &copy.events {
                            db.execute(
                                "INSERT INTO events (seq, at, hall, type, body) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (seq) DO NOTHING",
                                crate::vals![ev.seq, ev.at, ev.hall.as_ref(), &ev.kind, &ev.body],
                            )?;
                        }
                        crate::store::put_ticket_rows(db, "tickets", &copy.tickets)?;
                        db.execute(
                            "INSERT INTO meta (key, value) VALUES ('edge_restored', ?1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                            crate::vals![&restored],
                        )?;
                        Ok(())
                    })
                })
                .map_err(|x| x.to_string())
        })
        .await?;
        local = last;
    }
    tracing::info!(events = local - first, "the hall's log taken from the core's copy");
    Ok(local - first)
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, String> + Send + 'static) -> Result<T, String> {
    tokio::task::spawn_blocking(f).await.map_err(|x| x.to_string())?
}

/// Starts the uploader and the feed's follower; they end when the server stops.
pub fn spawn(u: Uplink) {
    let hall = u.cfg.topology.halls[u.edge.hall].id.clone();
    let client = |timeout: Duration| {
        let opts = ClientOptions { ca_file: u.edge.ca_file.clone(), timeout: Some(timeout), connect_timeout: Duration::from_secs(2) };
        Client::new(&u.edge.upstream, &opts).map(|c| c.with_token(&u.edge.token))
    };
    let (client, feed) = match (client(UPLOAD_TIMEOUT), client(Duration::from_secs(u64::from(FEED_WAIT_S)) + UPLOAD_TIMEOUT)) {
        (Ok(c), Ok(f)) => (c, f),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "the hall edge cannot reach its core: nothing is forwarded");
            return;
        }
    };
    spawn_feed(&u, feed, hall.clone());
    let mut commits = u.engine.shared.events.subscribe();
    u.engine.shared.internal_subscribers.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut shutdown = u.shutdown.clone();
    tokio::spawn(async move {
        // What the core holds: asked at the start and after any failure.
        let mut held: Option<u64> = None;
        let mut backoff = Duration::from_millis(250);
        let mut last_contact = tokio::time::Instant::now().checked_sub(HEARTBEAT).unwrap_or_else(tokio::time::Instant::now);
        loop {
            let heartbeat_due = last_contact.elapsed() >= HEARTBEAT;
            if *shutdown.borrow() {
                break;
            }
            let step = async {
                let h = match held {
                    Some(h) => h,
                    None => client.edge_held(&hall).await.map_err(|e| e.to_string())?.held,
                };
                // Its new events would carry numbers the core holds already: nothing is sent
                // until this server took the core's copy (it does at its start).
                let committed = u.engine.shared.committed_seq.load(std::sync::atomic::Ordering::Relaxed);
                if h > committed {
                    tracing::error!(held = h, committed, "the core holds more of this hall's log than this server: restart it while the core can be reached");
                    return Err(format!("the core holds {h} events of this hall's log, this server {committed}: restart it while the core can be reached"));
                }
                let day = u.engine.shared.core.read().await.state.day().to_string();
                let hall_id = hall.clone();
                let (mut up, texts) = read(&u.reader, move |db| next_upload(db, h, day, hall_id)).await?;
                if up.events.is_empty() && !heartbeat_due {
                    return Ok::<_, String>((h, false, false));
                }
                let more = !up.events.is_empty();
                // The hall as its duty leader sees it now: the core's figures of it.
                let core = u.engine.shared.core.read().await;
                up.hall = Some(Box::new(crate::overview::hall(&u.cfg, &core, u.edge.hall, u.clock.now(), texts)));
                drop(core);
                match client.edge_upload(&hall, &up).await {
                    Ok(x) => Ok((x.held, more, true)),
                    Err(ClientError::Server { code: wire::ErrorCode::EdgeGap, .. }) => {
                        tracing::warn!(held = h, "the core holds another part of the log than thought: asking again");
                        Err("the core holds another part of the log".into())
                    }
                    Err(e) => Err(e.to_string()),
                }
            };
            let outcome = step.await;
            let (h, more) = match outcome {
                Ok((h, more, contacted)) => {
                    backoff = Duration::from_millis(250);
                    if contacted {
                        last_contact = tokio::time::Instant::now();
                    }
                    (h, more)
                }
                Err(e) => {
                    tracing::debug!(error = %e, "the log was not forwarded");
                    held = None;
                    if let Some(s) = u.status.lock().as_mut() {
                        s.last_error = Some(e);
                    }
                    refresh_pending(&u, None).await;
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = shutdown.wait_for(|stop| *stop) => break,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            };
            held = Some(h);
            if let Some(s) = u.status.lock().as_mut() {
                s.held = h;
                s.last_error = None;
            }
            refresh_pending(&u, Some(h)).await;
            if !more {
                // Caught up: wait for the next commit (or look again in a while).
                tokio::select! {
                    m = commits.recv() => if let Err(tokio::sync::broadcast::error::RecvError::Closed) = m { break },
                    _ = tokio::time::sleep(HEARTBEAT) => {}
                    _ = shutdown.wait_for(|stop| *stop) => break,
                }
            }
        }
    });
}

/// The events not forwarded yet and the oldest one's time, into the status (`/healthz` counts
/// them afresh from the committed `seq`).
async fn refresh_pending(u: &Uplink, held: Option<u64>) {
    let held = held.unwrap_or_else(|| u.status.lock().as_ref().map_or(0, |s| s.held));
    if let Ok((pending, oldest)) = read(&u.reader, move |db| crate::queries::events_pending(db, held)).await {
        if let Some(s) = u.status.lock().as_mut() {
            s.pending = pending;
            s.oldest_pending_at = oldest.map(crate::view::time);
        }
    }
}
