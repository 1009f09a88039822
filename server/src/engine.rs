//! The engine: one writer thread owns the store and applies commands to the domain state.
//!
//! Commands from HTTP handlers queue on a channel. The writer takes everything queued (up to
//! [`MAX_BATCH`]), applies it to the state under the write lock, writes all changes in ONE
//! transaction (group commit), then broadcasts the events and answers the callers. So:
//! - an answer (and an event) is only ever sent for changes that are durable;
//! - the broadcast happens under the write lock, so a subscriber that takes a snapshot under the
//!   read lock and subscribes in the same breath sees every later event exactly once;
//! - if a commit fails, everything the batch changed in memory is reloaded from the store and
//!   every caller of that batch gets an error: nothing is acknowledged that is not stored.
//!
//! The lock is tokio's: readers wait for a batch without blocking the async workers, and what
//! needs no state (health, pages) does not wait at all ([`Shared::committed_seq`],
//! [`Shared::health`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use qcall_wire as wire;
use tokio::sync::{broadcast, mpsc, oneshot, RwLock};

pub use crate::clock::{Clock, ManualClock, SystemClock};
use crate::domain::{Booking, BookingId, Command, DomainError, Event, Millis, State, TicketId};
use crate::store::{Batch, EventRow, PauseRow, SessionRow, Store, StoreError};
use crate::view;

pub const MAX_BATCH: usize = 512;
/// Longest wait for more commands before a commit, and the load at which waiting starts.
const COMMIT_DELAY: std::time::Duration = std::time::Duration::from_micros(800);
const COMMIT_DELAY_MIN_BATCH: usize = 4;
const SLOW_COMMIT: std::time::Duration = std::time::Duration::from_millis(1);
/// Events kept in memory for `?since=` replay.
pub const RING: usize = 1024;
/// Events a subscriber may fall behind before it is dropped (it then resyncs).
pub const SUBSCRIBER_BACKLOG: usize = 1024;

/// An event as broadcast: the wire message, serialised once, and the halls it concerns.
#[derive(Debug)]
pub struct Broadcast {
    pub seq: u64,
    pub halls: Vec<usize>,
    pub msg: wire::StreamMessage,
    pub json: String,
}

impl Broadcast {
    pub fn concerns(&self, hall: Option<usize>) -> bool {
        hall.is_none_or(|h| self.halls.contains(&h))
    }
}

/// A clerk signed in at a counter.
#[derive(Debug, Clone)]
pub struct Session {
    pub clerk: String,
    pub counter: usize,
    /// Fingerprint of the PIN hash the clerk signed in with: void once the PIN changes.
    pub pin_fp: String,
    /// When the session was last used (not stored: a restart counts as use).
    pub last_seen: Arc<AtomicI64>,
}

impl Session {
    pub fn new(clerk: String, counter: usize, pin_fp: String, now: Millis) -> Session {
        Session { clerk, counter, pin_fp, last_seen: Arc::new(AtomicI64::new(now)) }
    }

    pub fn touch(&self, now: Millis) {
        self.last_seen.fetch_max(now, Ordering::Relaxed);
    }

    pub fn idle_ms(&self, now: Millis) -> Millis {
        now - self.last_seen.load(Ordering::Relaxed)
    }
}

impl PartialEq for Session {
    fn eq(&self, o: &Session) -> bool {
        (&self.clerk, self.counter, &self.pin_fp) == (&o.clerk, o.counter, &o.pin_fp)
    }
}

/// What the readers share with the writer.
pub struct Core {
    pub state: State,
    pub seq: u64,
    pub ring: VecDeque<Arc<Broadcast>>,
    /// device id -> (hall, status)
    pub devices: BTreeMap<String, (usize, wire::DeviceStatus)>,
    /// token hash -> session
    pub sessions: HashMap<String, Session>,
    /// Alerts whose condition lasts (acknowledged or not), by condition key.
    pub alerts: BTreeMap<String, wire::Alert>,
    /// When each device last reported since the server started (not stored).
    pub device_seen: BTreeMap<String, Millis>,
    /// The id the next alert gets.
    pub next_alert_id: u64,
    /// Numbers left for today's tickets, and the messages made for them.
    pub texts: crate::texts::Texts,
    /// Per hall id: the highest `seq` of the hall edge's log held (the core of hall edges).
    pub edge_held: HashMap<String, u64>,
    /// The halls run by other servers, as last heard of (at the core, the halls run by their
    /// edges; at an edge, the other halls, through the core).
    pub mirrors: BTreeMap<usize, Mirror>,
    /// At the core: per hall run by its edge, the last item of its feed. At an edge (hall
    /// `usize::MAX`): the last item of its feed applied.
    pub feed: BTreeMap<usize, u64>,
}

/// A hall run by another server not heard from this long (ms) is cut off (断网) here.
pub const SILENT: Millis = 10_000;

/// A hall its edge runs, as the core last heard of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Mirror {
    /// The hall as its server last told (with the figures of its duty leader's page when it
    /// is a hall edge telling the core).
    pub hall: Option<Box<wire::HallInfo>>,
    pub overview: Option<Box<wire::HallOverview>>,
    /// When the edge was last heard from.
    pub seen_at: Millis,
    /// Cut off (断网) since then: the edge was silent for [`SILENT`].
    pub cut_since: Option<Millis>,
}

impl Mirror {
    fn row(&self, hall: &str, with_overview: bool) -> crate::store::EdgeHallRow {
        crate::store::EdgeHallRow {
            hall: hall.to_string(),
            seen_at: self.seen_at,
            cut_since: self.cut_since,
            overview: self.overview.as_ref().filter(|_| with_overview).map(|o| serde_json::to_string(o).expect("wire types serialise")),
        }
    }
}

impl Core {
    /// How this server hears from a hall another server runs (`None`: it runs it itself).
    pub fn link(&self, h: usize) -> Option<wire::HallLink> {
        if !self.state.runs_elsewhere(h) {
            return None;
        }
        Some(match self.mirrors.get(&h) {
            Some(m) => wire::HallLink { online: m.cut_since.is_none(), since: m.cut_since.map(view::time) },
            None => wire::HallLink { online: false, since: None },
        })
    }

    /// A hall as devices and pages see it: from the state held here, or, for a hall run
    /// elsewhere, as its server last told (marked with its link).
    pub fn hall_info(&self, base_url: &str, h: usize, now: Millis) -> wire::HallInfo {
        let mut info = match self.mirrors.get(&h).and_then(|m| m.hall.as_ref()) {
            Some(o) if self.state.runs_elsewhere(h) => (**o).clone(),
            _ => view::hall(&self.state, &self.devices, base_url, h, now),
        };
        info.link = self.link(h);
        info
    }

    /// Every hall, as [`Core::hall_info`].
    pub fn halls_info(&self, base_url: &str, now: Millis) -> Vec<wire::HallInfo> {
        (0..self.state.topology().halls.len()).map(|h| self.hall_info(base_url, h, now)).collect()
    }

    /// A hall run elsewhere as its server's duty leader last saw it, marked with its link.
    pub fn mirrored(&self, h: usize) -> Option<wire::HallOverview> {
        let mut o = *self.mirrors.get(&h)?.overview.clone()?;
        o.hall.link = self.link(h);
        Some(o)
    }

    /// Memory becomes what the store holds (after a failed commit).
    fn reloaded(&mut self, d: Durable) {
        (self.state, self.seq, self.devices, self.sessions, self.alerts, self.next_alert_id, self.edge_held, self.mirrors, self.feed) =
            (d.state, d.seq, d.devices, d.sessions, d.alerts, d.next_alert_id, d.edge_held, d.mirrors, d.feed);
        self.texts.phones = d.texts.phones;
        self.texts.made = d.texts.made;
    }
}

/// What the store rebuilds: everything the writer keeps besides the replay ring.
pub struct Durable {
    pub state: State,
    pub seq: u64,
    pub devices: BTreeMap<String, (usize, wire::DeviceStatus)>,
    pub sessions: HashMap<String, Session>,
    pub alerts: BTreeMap<String, wire::Alert>,
    pub next_alert_id: u64,
    /// Today's numbers and messages made (`notify` is the config's: not stored).
    pub texts: crate::texts::Texts,
    pub edge_held: HashMap<String, u64>,
    pub mirrors: BTreeMap<usize, Mirror>,
    pub feed: BTreeMap<usize, u64>,
}

impl Durable {
    /// Everything as the store has it, for the business day of `now` (a store without a day
    /// yet starts at `now`).
    pub fn load(store: &mut Store, now: Millis) -> Result<Durable, StoreError> {
        let (state, seq) = store.load(now)?;
        let topo = state.topology().clone();
        let mut devices = BTreeMap::new();
        for body in store.devices()? {
            if let Ok(d) = serde_json::from_str::<(String, wire::DeviceStatus)>(&body) {
                if let Some(h) = topo.hall_ix(&d.0) {
                    devices.insert(d.1.device.clone(), (h, d.1));
                }
            }
        }
        let mut sessions = HashMap::new();
        for s in store.sessions()? {
            if let Some(counter) = topo.counter_ix(&s.counter) {
                sessions.insert(s.token_hash, Session::new(s.clerk, counter, s.pin_fp, now));
            }
        }
        let (alerts, next_alert_id) = store.alerts_live()?;
        let (phones, made) = store.ticket_phones(state.day())?;
        let texts = crate::texts::Texts { phones: phones.into_iter().collect(), made: made.into_iter().collect(), notify: vec![] };
        let edge_held = store.edge_held()?;
        let mut mirrors = BTreeMap::new();
        for r in store.edge_halls()? {
            let Some(h) = topo.hall_ix(&r.hall).filter(|&h| state.runs_elsewhere(h)) else { continue };
            let overview: Option<Box<wire::HallOverview>> = r.overview.and_then(|o| serde_json::from_str(&o).ok());
            let hall = overview.as_ref().map(|o| Box::new(o.hall.clone()));
            mirrors.insert(h, Mirror { hall, overview, seen_at: r.seen_at, cut_since: r.cut_since });
        }
        let mut feed = BTreeMap::new();
        for (hall, last) in store.edge_feed_last()? {
            match topo.hall_ix(&hall) {
                Some(h) => feed.insert(h, last),
                None if hall.is_empty() => feed.insert(usize::MAX, last),
                None => None,
            };
        }
        Ok(Durable { state, seq, devices, sessions, alerts, next_alert_id, texts, edge_held, mirrors, feed })
    }
}

/// How the store is doing, for `/healthz` (read without the state lock).
#[derive(Debug, Clone, Default)]
pub struct StoreStatus {
    /// The last commit failed with this (and none succeeded since).
    pub last_error: Option<String>,
    /// The business day the store is on.
    pub day: String,
}

impl Shared {
    /// Event streams following `events` now (the server's own receivers left out).
    pub fn stream_subscribers(&self) -> u64 {
        (self.events.receiver_count() as u64).saturating_sub(self.internal_subscribers.load(Ordering::Relaxed))
    }
}

pub struct Shared {
    pub core: RwLock<Core>,
    pub events: broadcast::Sender<Arc<Broadcast>>,
    pub commits: AtomicU64,
    pub batches_applied: AtomicU64,
    /// Microseconds the writer spent applying and committing (not waiting).
    pub writer_busy_us: AtomicU64,
    /// The `seq` of the last committed event.
    pub committed_seq: AtomicU64,
    /// Seconds per commit (fsync included) and commands per batch.
    pub commit_seconds: crate::metrics::Histogram,
    pub batch_commands: crate::metrics::Histogram,
    /// Event-stream subscribers dropped for being too slow or too far behind.
    pub dropped_subscribers: AtomicU64,
    /// Receivers of `events` inside the server (the forecast worker), not event streams.
    pub internal_subscribers: AtomicU64,
    pub health: parking_lot::Mutex<StoreStatus>,
    /// What the server's other parts report for alerts.
    pub signals: Signals,
    /// Another server took the writer's lease (PostgreSQL): every change is refused, and the
    /// server stops (`fenced_tx` tells it).
    pub fenced: std::sync::atomic::AtomicBool,
    pub fenced_tx: tokio::sync::watch::Sender<bool>,
}

/// When text messages last went through or failed, and when an event stream was last turned
/// away (ms since the epoch; 0: never). Not stored: a restart starts afresh.
#[derive(Debug, Default)]
pub struct Signals {
    pub sms_ok_at: AtomicI64,
    pub sms_failed_at: AtomicI64,
    pub streams_full_at: AtomicI64,
}

impl Signals {
    pub fn health(&self) -> crate::alerts::Health {
        crate::alerts::Health {
            sms_ok_at: self.sms_ok_at.load(Ordering::Relaxed),
            sms_failed_at: self.sms_failed_at.load(Ordering::Relaxed),
            streams_full_at: self.streams_full_at.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug)]
pub enum Request {
    Domain(Command),
    /// A clerk signs in: a new session. Whoever was signed in at the counter, and the clerk's
    /// own sessions at other counters, end (a counter has one clerk, a clerk one counter).
    SignIn { counter: usize, clerk: String, token_hash: String, take_over: bool, pin_fp: String },
    SignOut { counter: usize, token_hash: String },
    /// End these sessions; a counter left without a clerk closes.
    EndSessions { token_hashes: Vec<String> },
    /// End the sessions unused for `idle_ms`.
    ExpireIdle { idle_ms: Millis },
    DeviceStatus { device: String, hall: usize, status: wire::DeviceStatus },
    /// Purge the personal data of bookings older than their `retention_days` (their counts
    /// stay) and bans that ended, who served tickets older than `clerk_days`, and audit
    /// entries older than `audit_days`.
    Purge { audit_days: u32, clerk_days: u32 },
    /// Append to the audit trail.
    Audit(crate::store::AuditRow),
    /// Raise the alerts whose condition began, clear those whose condition ended.
    CheckAlerts(crate::alerts::Rules),
    /// A webhook delivery attempt's outcome.
    Outbox(crate::store::OutboxUpdate),
    /// The reasons of a 差评, for the case of `ticket`.
    CaseReasons { ticket: TicketId, reasons: Vec<String> },
    /// A note on a case; with `close`, the case closes with that summary.
    CaseNote { id: u64, note: wire::CaseNote, close: Option<String> },
    /// A supervisor acknowledges an alert (`Outcome::Alert`).
    AckAlert { id: u64, by: String },
    /// A taxpayer leaves a mobile number for a waiting ticket's messages (near turn, called).
    SetPhone { ticket: TicketId, phone: String },
    /// A remote ticket (线上取号, [`Command::IssueRemote`]) for a proven phone, which is
    /// texted about it; one per phone, hall and day.
    IssueRemote { cmd: Command, phone: String },
    /// A text message's sending attempt.
    Notice(crate::store::NoticeUpdate),
    /// The forked estimator's latest forecast of a hall ([`crate::forecast`]): published into
    /// the state; the screens are told when a new ticket's wait changed.
    Forecast(Arc<crate::domain::estimate::Forecast>),
    /// A hall edge's next events and ticket rows (`hall` is the edge's): stored once each,
    /// in order ([`Outcome::EdgeHeld`]).
    /// `device`: the edge (it is seen now: an empty upload is its heartbeat).
    EdgeLog { hall: usize, device: String, upload: wire::EdgeUpload },
    /// At a hall edge: what the core sent (its bookings and publicity, applied once each, in
    /// order) and the other halls as the core sees them ([`Outcome::EdgeHeld`]: the feed's
    /// last item applied).
    Feed(Box<wire::EdgeFeed>),
    /// At the core: a ticket one hall edge transfers to a hall another edge runs, queued in
    /// that hall's feed.
    Forward { hall: usize, item: wire::EdgeFeedKind },
    /// At the core: take over a hall from its edge (whose box died), numbering each service
    /// `skip` above the last number held of the edge's ([`Outcome::TakenOver`]).
    Takeover { hall: usize, skip: u32 },
    /// Keep the writer's lease on PostgreSQL (a commit renews it too; this is the idle
    /// writer's heartbeat).
    Renew,
}

/// What a request did, as its caller answers it (rendered by the writer, from the state it
/// just committed: a handler needs no second look).
#[derive(Debug)]
pub enum Outcome {
    /// Done (or nothing to do); the caller answers without more.
    Done,
    /// The highest `seq` of a hall edge's log held now.
    EdgeHeld(u64),
    /// A ticket issued or checked in; `again`: the request (or the check-in) was made before,
    /// and this is its ticket.
    Ticket { ticket: wire::Ticket, again: bool },
    /// A counter acted: the ticket it acted on, and the counter afterwards.
    Counter { ticket: Option<wire::Ticket>, counter: wire::CounterInfo },
    /// A booking made; `again`: its `request_id` was used before, for this one.
    Booking { booking: Box<Booking>, again: bool },
    /// The alert as it is now.
    Alert(wire::Alert),
    /// A hall taken over: per service, the first number the core issues.
    TakenOver(Vec<String>),
}

/// The answer to a domain command that applied, from the state after it and its events.
fn answer(core: &Core, cmd: &Command, events: &[Arc<Broadcast>]) -> Outcome {
    use wire::EventKind as K;
    match cmd {
        Command::Issue { .. } | Command::CheckIn { .. } | Command::IssueRemote { .. } => events
            .iter()
            .find_map(|b| match &b.msg.kind {
                K::TicketIssued { ticket } | K::TicketCheckedIn { ticket } => Some(ticket.clone()),
                _ => None,
            })
            .map_or(Outcome::Done, |ticket| Outcome::Ticket { ticket, again: false }),
        Command::Book { request_id, .. } => core
            .state
            .bookings()
            .by_request(request_id)
            .map_or(Outcome::Done, |b| Outcome::Booking { booking: Box::new(b.clone()), again: false }),
        _ => match cmd.counter() {
            Some(c) => Outcome::Counter {
                ticket: events.iter().rev().find_map(|b| match &b.msg.kind {
                    K::TicketCalled { ticket, .. } | K::TicketFinished { ticket, .. } | K::TicketNoShow { ticket, .. } | K::TicketTransferred { ticket, .. } => {
                        Some(ticket.clone())
                    }
                    _ => None,
                }),
                counter: view::counter(&core.state, c),
            },
            None => Outcome::Done,
        },
    }
}

/// A ticket asked for again (a repeated request), as it is now.
fn again(core: &Core, id: TicketId, now: Millis) -> Result<Outcome, EngineError> {
    let t = core.state.ticket(id).ok_or_else(|| EngineError::Store(format!("ticket {id} is not in memory")))?;
    Ok(Outcome::Ticket { ticket: view::ticket(&core.state, t, now), again: true })
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("request_id was already used for a different request")]
    RequestIdReused,
    #[error("storage failed: {0}")]
    Store(String),
    #[error("the engine stopped")]
    Stopped,
    #[error("no such alert")]
    UnknownAlert,
    #[error("no such case")]
    UnknownCase,
    #[error("the case is closed")]
    CaseClosed,
    /// The phone has a remote ticket of the hall today (its number).
    #[error("this phone has remote ticket {0} in this hall today")]
    RemoteTaken(String),
    /// A hall edge's upload does not follow what is held (the highest `seq` held).
    #[error("the upload does not follow seq {0}, the last held")]
    EdgeGap(u64),
    /// It needs the link to the hall's own server (or the core), which is down.
    #[error("the link to {0}'s own server is down")]
    UpstreamUnavailable(String),
    /// Another server took the writer's lease: this one takes no more changes.
    #[error("another server took over as the writer: {0}")]
    Fenced(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AlertChange {
    Raised,
    Cleared,
    Acknowledged,
}

struct Job {
    req: Request,
    /// Written with the request's changes, in the same transaction, when it applies.
    audit: Option<crate::store::AuditRow>,
    reply: oneshot::Sender<Result<Outcome, EngineError>>,
}

#[derive(Clone)]
pub struct Engine {
    tx: mpsc::Sender<Job>,
    pub shared: Arc<Shared>,
}

impl Engine {
    /// Load the state from the store and start the writer thread.
    pub fn start(
        mut store: Store,
        clock: Arc<dyn Clock>,
    ) -> Result<(Engine, std::thread::JoinHandle<()>), StoreError> {
        let now = clock.now();
        let Durable { state, seq, devices, sessions, alerts, next_alert_id, texts, edge_held, mirrors, feed } = Durable::load(&mut store, now)?;
        let topo = state.topology().clone();
        let mut ring = VecDeque::new();
        for (s, hall, body) in store.recent_events(RING)? {
            if let Ok(msg) = serde_json::from_str::<wire::StreamMessage>(&body) {
                let halls = match hall.as_deref().and_then(|h| topo.hall_ix(h)) {
                    Some(h) => vec![h],
                    None => (0..topo.halls.len()).collect(),
                };
                ring.push_back(Arc::new(Broadcast { seq: s, halls, msg, json: body }));
            }
        }
        let (events, _) = broadcast::channel(SUBSCRIBER_BACKLOG);
        let day = state.day().to_string();
        let shared = Arc::new(Shared {
            core: RwLock::new(Core { state, seq, ring, devices, sessions, alerts, next_alert_id, device_seen: BTreeMap::new(), texts, edge_held, mirrors, feed }),
            events,
            commits: AtomicU64::new(0),
            batches_applied: AtomicU64::new(0),
            writer_busy_us: AtomicU64::new(0),
            committed_seq: AtomicU64::new(seq),
            commit_seconds: crate::metrics::Histogram::new(crate::metrics::COMMIT_SECONDS),
            batch_commands: crate::metrics::Histogram::new(crate::metrics::BATCH_COMMANDS),
            dropped_subscribers: AtomicU64::new(0),
            internal_subscribers: AtomicU64::new(0),
            health: parking_lot::Mutex::new(StoreStatus { last_error: None, day }),
            signals: Signals::default(),
            fenced: std::sync::atomic::AtomicBool::new(false),
            fenced_tx: tokio::sync::watch::channel(false).0,
        });
        let (tx, rx) = mpsc::channel(8192);
        let writer_shared = shared.clone();
        let handle = std::thread::Builder::new()
            .name("qcall-writer".into())
            .spawn(move || writer(store, writer_shared, rx, clock))
            .expect("spawn writer thread");
        Ok((Engine { tx, shared }, handle))
    }

    pub async fn submit(&self, req: Request) -> Result<Outcome, EngineError> {
        self.send(req, None).await
    }

    /// Submits `req` with the audit entry that records it: both are stored, in one
    /// transaction, or neither (a refused request leaves no entry).
    pub async fn submit_audited(&self, req: Request, audit: crate::store::AuditRow) -> Result<Outcome, EngineError> {
        self.send(req, Some(audit)).await
    }

    async fn send(&self, req: Request, audit: Option<crate::store::AuditRow>) -> Result<Outcome, EngineError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Job { req, audit, reply }).await.map_err(|_| EngineError::Stopped)?;
        rx.await.map_err(|_| EngineError::Stopped)?
    }

    pub fn commits(&self) -> u64 {
        self.shared.commits.load(Ordering::Relaxed)
    }
}

fn writer(mut store: Store, shared: Arc<Shared>, mut rx: mpsc::Receiver<Job>, clock: Arc<dyn Clock>) {
    let drain = |rx: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>| {
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
    };
    // Callers in flight at the end of the last batch: under load they come back at once.
    let mut expected = 1usize;
    // Mean time of a commit (fsync included), exponentially weighted.
    let mut commit_time = std::time::Duration::ZERO;
    // A failed commit whose reload failed too: memory is not what the store holds.
    let mut needs_reload = false;
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        drain(&mut rx, &mut jobs);
        // Commit delay: wait a moment for the callers just answered, so they share this
        // batch's fsync instead of waiting a whole extra commit for the next one.
        // Only worth it where a commit (its fsync) is slow: on a fast disk the writer is better
        // off starting at once, overlapping this batch with the answers of the last one.
        if expected >= COMMIT_DELAY_MIN_BATCH && commit_time >= SLOW_COMMIT {
            let until = std::time::Instant::now() + COMMIT_DELAY.min(commit_time / 2);
            while jobs.len() < expected && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_micros(50));
                drain(&mut rx, &mut jobs);
            }
        }
        let size = jobs.len();
        shared.batch_commands.observe(size as f64);
        let span = tracing::debug_span!("batch", size);
        let _enter = span.enter();
        let t0 = std::time::Instant::now();
        let took = process(&mut store, &shared, &mut needs_reload, jobs, clock.now());
        commit_time = (commit_time * 7 + took) / 8;
        shared.writer_busy_us.fetch_add(t0.elapsed().as_micros() as u64, Ordering::Relaxed);
        expected = (size + rx.len()).min(MAX_BATCH);
    }
    if !shared.fenced.load(Ordering::Relaxed) {
        store.release_lease();
    }
    tracing::info!("writer stopped");
}

#[derive(Default)]
struct Acc {
    out: Vec<Arc<Broadcast>>,
    /// Hall edges' events and ticket rows to store, and what is held once they are.
    edge_events: Vec<(String, wire::EdgeEvent)>,
    edge_tickets: Vec<wire::EdgeTicket>,
    edge_held: HashMap<String, u64>,
    /// Halls run by their edges whose mirror changed (with its overview: it came anew).
    mirrors: BTreeMap<usize, bool>,
    /// At the core: what to send hall edges (by hall), in order.
    feed: Vec<(usize, wire::EdgeFeedKind)>,
    /// At an edge: the last item of the feed applied now.
    feed_held: Option<u64>,
    takeovers: Vec<(String, i64, u32, u64)>,
    tickets: BTreeSet<TicketId>,
    counters: BTreeSet<usize>,
    publicity: BTreeSet<usize>,
    expire_before: Option<chrono::NaiveDate>,
    sessions_clear: bool,
    sessions_add: Vec<SessionRow>,
    sessions_remove: Vec<String>,
    devices: Vec<(String, String)>,
    bookings: BTreeMap<BookingId, Booking>,
    persons: BTreeSet<String>,
    pauses: Vec<PauseRow>,
    alerts: Vec<(String, wire::Alert)>,
    /// (alert id, event type, JSON body) for the webhook outbox.
    outbox: Vec<(u64, &'static str, String)>,
    cases: Vec<crate::store::CaseRow>,
    /// Cases changed by this batch, as they now are (later changes in the batch see them).
    case_updates: BTreeMap<u64, crate::store::CaseUpdate>,
    outbox_updates: Vec<crate::store::OutboxUpdate>,
    audit: Vec<crate::store::AuditRow>,
    purge: Option<crate::store::Purge>,
    phones: Vec<crate::store::PhoneRow>,
    notices: Vec<crate::store::NoticeRow>,
    notice_updates: Vec<crate::store::NoticeUpdate>,
}

impl Acc {
    /// Number the events, render them for the wire and note what they touched.
    fn emit(&mut self, core: &mut Core, events: Vec<Event>, now: Millis) -> Vec<Arc<Broadcast>> {
        let mut mine = Vec::new();
        for e in events {
            self.tickets.extend(e.tickets());
            self.counters.extend(e.counter());
            match &e {
                Event::PublicityUpdated { hall, .. } => {
                    self.publicity.insert(*hall);
                }
                Event::CounterPaused { counter, reason } => {
                    let clerk = core.state.counter(*counter).clerk.clone();
                    self.pauses.push(PauseRow::Start { counter: *counter, clerk, reason: reason.clone(), at: now });
                }
                Event::CounterResumed { counter } | Event::CounterClosed { counter } => {
                    self.pauses.push(PauseRow::End { counter: *counter, at: now });
                }
                Event::TicketRated { ticket, counter, score } if *score <= 2 => {
                    let st = &core.state;
                    let topo = st.topology();
                    if let Some(t) = st.ticket(*ticket) {
                        let deadline = topo.calendar.working_days_after(t.day, topo.case_days.max(1));
                        self.cases.push(crate::store::CaseRow {
                            ticket: t.id,
                            number: st.number(t),
                            day: t.day,
                            hall: topo.halls[t.hall].id.clone(),
                            service: topo.services[t.service].id.clone(),
                            counter: topo.counters[*counter].id.clone(),
                            clerk: t.clerk.as_deref().map(str::to_string),
                            rated_at: now,
                            score: *score,
                            deadline,
                        });
                    }
                }
                Event::DayRolledOver { day, .. } => {
                    self.expire_before = Some(*day);
                    // A new day forgets every counter's last finished ticket (the one its
                    // rating pad may rate), closed counters' too: all their rows are written.
                    self.counters.extend(0..core.state.topology().counters.len());
                }
                _ => {}
            }
            if let Some(b) = e.booking() {
                self.persons.insert(b.who.key());
                self.bookings.insert(b.id, b.clone());
            }
            if let Some(item) = feed_item(&core.state, &e) {
                self.feed.push(item);
            }
            if let Some((msg, halls)) = view::event(&core.state, &e, core.seq + 1, now) {
                core.seq += 1;
                mine.push(self.push(core.seq, halls, msg));
            }
        }
        mine
    }

    /// Numbers an alert's change, stores the alert, and puts a raised one in the webhook outbox.
    fn alert(&mut self, core: &mut Core, key: String, alert: wire::Alert, change: AlertChange, rules: &crate::alerts::Rules, now: Millis) -> Arc<Broadcast> {
        // An alert about every hall goes to every hall's stream.
        let halls = match core.state.topology().hall_ix(&alert.hall) {
            Some(h) => vec![h],
            None => (0..core.state.topology().halls.len()).collect(),
        };
        core.seq += 1;
        let kind = match change {
            AlertChange::Raised => wire::EventKind::AlertRaised { alert: alert.clone() },
            AlertChange::Cleared => wire::EventKind::AlertCleared { alert: alert.clone() },
            AlertChange::Acknowledged => wire::EventKind::AlertAcknowledged { alert: alert.clone() },
        };
        let hall = (!alert.hall.is_empty()).then(|| alert.hall.clone());
        let msg = wire::StreamMessage { seq: core.seq, at: view::time(now), hall, kind, queues: vec![] };
        if change == AlertChange::Raised && rules.webhook_url.is_some() {
            self.outbox.push((alert.id, "alert_raised", serde_json::to_string(&msg).expect("wire types serialise")));
        }
        self.alerts.push((key, alert));
        self.push(core.seq, halls, msg)
    }

    /// The open case `key` names, to change within this batch (as an earlier change of the
    /// batch left it, else as stored).
    fn case(&mut self, store: &mut Store, key: crate::store::CaseKey) -> Result<&mut crate::store::CaseUpdate, EngineError> {
        let now = store.case_now(key).map_err(|e| EngineError::Store(e.to_string()))?.ok_or(EngineError::UnknownCase)?;
        if !now.open {
            return Err(EngineError::CaseClosed);
        }
        let c = self.case_updates.entry(now.id).or_insert(crate::store::CaseUpdate { id: now.id, reasons: now.reasons, notes: now.notes, closed: None });
        // Closed earlier in this batch: what was reported stays.
        if c.closed.is_some() {
            return Err(EngineError::CaseClosed);
        }
        Ok(c)
    }

    /// At a hall edge: the core's feed applied (each item once, in order), and the other halls
    /// as the core sees them mirrored (their waits for the kiosks, cut off with the link).
    fn apply_feed(&mut self, core: &mut Core, feed: &wire::EdgeFeed, now: Millis) -> Outcome {
        let mut held = self.feed_held.or(core.feed.get(&usize::MAX).copied()).unwrap_or(0);
        for item in &feed.items {
            if item.seq <= held {
                continue;
            }
            if item.seq != held + 1 {
                tracing::warn!(held, next = item.seq, "the core's feed skipped items");
            }
            held = item.seq;
            let Some(cmd) = feed_command(&core.state, &item.kind) else {
                tracing::warn!(seq = item.seq, "a feed item names what this hall does not know: skipped");
                continue;
            };
            match core.state.apply(cmd, now) {
                Ok(events) => {
                    let _ = self.emit(core, events, now);
                }
                Err(e) => tracing::warn!(error = %e, seq = item.seq, "a feed item was not applied"),
            }
        }
        if held != core.feed.get(&usize::MAX).copied().unwrap_or(0) {
            self.feed_held = Some(held);
        }
        let topo = core.state.topology().clone();
        for info in &feed.halls {
            let Some(h) = topo.hall_ix(&info.id).filter(|&h| core.state.runs_elsewhere(h)) else { continue };
            // A hall the core itself does not hear from is cut off here too.
            let cut = info.link.as_ref().filter(|l| !l.online).map(|l| l.since.map_or(now, |t| t.timestamp_millis()));
            let m = core.mirrors.entry(h).or_insert(Mirror { hall: None, overview: None, seen_at: now, cut_since: Some(now) });
            let was_cut = m.cut_since;
            let queues_changed = m.hall.as_ref().is_none_or(|old| old.services != info.services);
            m.hall = Some(Box::new(info.clone()));
            m.seen_at = now;
            m.cut_since = cut;
            self.mirrors.entry(h).or_default();
            if was_cut.is_some() != cut.is_some() {
                self.link_changed(core, h, now);
            }
            if queues_changed {
                core.seq += 1;
                let msg = wire::StreamMessage {
                    seq: core.seq,
                    at: view::time(now),
                    hall: Some(info.id.clone()),
                    kind: wire::EventKind::HallMirrored,
                    queues: info.services.iter().map(view::queue_of_service).collect(),
                };
                self.push(core.seq, vec![h], msg);
            }
        }
        Outcome::EdgeHeld(held)
    }

    /// Tells the streams that a hall run elsewhere was cut off or is heard from again.
    fn link_changed(&mut self, core: &mut Core, hall: usize, now: Millis) {
        let Some(link) = core.link(hall) else { return };
        core.seq += 1;
        let msg = wire::StreamMessage {
            seq: core.seq,
            at: view::time(now),
            hall: Some(core.state.topology().halls[hall].id.clone()),
            kind: wire::EventKind::HallLinkChanged { link },
            queues: vec![],
        };
        self.push(core.seq, vec![hall], msg);
    }

    /// Halls run by their edges that fell silent are cut off (断网) from when they were last
    /// heard from.
    fn check_links(&mut self, core: &mut Core, now: Millis) {
        let silent: Vec<usize> =
            core.mirrors.iter().filter(|(_, m)| m.cut_since.is_none() && now - m.seen_at > SILENT).map(|(&h, _)| h).collect();
        for h in silent {
            let m = core.mirrors.get_mut(&h).expect("listed");
            m.cut_since = Some(m.seen_at);
            tracing::warn!(hall = %core.state.topology().halls[h].id, "the hall's edge is not heard from: cut off");
            self.mirrors.entry(h).or_default();
            self.link_changed(core, h, now);
        }
    }

    fn push(&mut self, seq: u64, halls: Vec<usize>, msg: wire::StreamMessage) -> Arc<Broadcast> {
        let json = serde_json::to_string(&msg).expect("wire types serialise");
        let b = Arc::new(Broadcast { seq, halls, msg, json });
        self.out.push(b.clone());
        b
    }

    /// Ends one session; its counter closes when no other session is left there.
    fn end_session(&mut self, core: &mut Core, token_hash: &str, now: Millis) -> Vec<Arc<Broadcast>> {
        let Some(s) = core.sessions.remove(token_hash) else { return vec![] };
        self.sessions_remove.push(token_hash.to_string());
        if core.sessions.values().any(|o| o.counter == s.counter) {
            return vec![];
        }
        self.counters.insert(s.counter);
        let events = core.state.apply(Command::SignOut { counter: s.counter }, now).unwrap_or_default();
        self.emit(core, events, now)
    }

    fn sign_in(
        &mut self,
        core: &mut Core,
        (counter, clerk, token_hash, take_over, pin_fp): (usize, &str, &str, bool, &str),
        now: Millis,
    ) -> Result<Vec<Arc<Broadcast>>, EngineError> {
        let events = core.state.apply(Command::SignIn { counter, clerk: clerk.to_string(), take_over }, now)?;
        // One clerk per counter: whoever was here is out.
        let here: Vec<String> = core.sessions.iter().filter(|(_, s)| s.counter == counter).map(|(k, _)| k.clone()).collect();
        for t in here {
            core.sessions.remove(&t);
            self.sessions_remove.push(t);
        }
        core.sessions.insert(token_hash.to_string(), Session::new(clerk.to_string(), counter, pin_fp.to_string(), now));
        self.sessions_add.push(SessionRow {
            token_hash: token_hash.to_string(),
            clerk: clerk.to_string(),
            counter: core.state.topology().counters[counter].id.clone(),
            created_at: now,
            pin_fp: pin_fp.to_string(),
        });
        self.counters.insert(counter);
        let mut out = self.emit(core, events, now);
        // One counter per clerk: the clerk's sessions elsewhere end.
        let elsewhere: Vec<String> =
            core.sessions.iter().filter(|(_, s)| s.clerk == clerk && s.counter != counter).map(|(k, _)| k.clone()).collect();
        for t in elsewhere {
            out.extend(self.end_session(core, &t, now));
        }
        Ok(out)
    }
}

/// Apply, commit, broadcast, answer. See the module docs for the order and why.
/// Returns how long the commit took.
fn process(store: &mut Store, shared: &Shared, needs_reload: &mut bool, jobs: Vec<Job>, now: Millis) -> std::time::Duration {
    if shared.fenced.load(Ordering::Relaxed) {
        for job in jobs {
            let _ = job.reply.send(Err(EngineError::Fenced("this server is no longer the active one".into())));
        }
        return std::time::Duration::ZERO;
    }
    let mut guard = shared.core.blocking_write();
    let core = &mut *guard;
    if *needs_reload {
        match Durable::load(store, now) {
            Ok(d) => {
                tracing::info!("state reloaded from the database");
                core.reloaded(d);
                *needs_reload = false;
            }
            Err(e) => {
                drop(guard);
                tracing::error!(error = %e, "the database cannot be read; refusing every change");
                shared.health.lock().last_error = Some(e.to_string());
                for job in jobs {
                    let _ = job.reply.send(Err(EngineError::Store(e.to_string())));
                }
                return std::time::Duration::ZERO;
            }
        }
    }
    let mut acc = Acc::default();
    let mut results: Vec<Result<Outcome, EngineError>> = Vec::with_capacity(jobs.len());

    // The day may have turned since the last batch; every session ends with it.
    let tick = core.state.apply(Command::Tick, now).unwrap_or_default();
    acc.check_links(core, now);
    if tick.iter().any(|e| matches!(e, Event::DayRolledOver { .. })) {
        core.sessions.clear();
        acc.sessions_clear = true;
        // The numbers were for that day (the store deletes them with the rollover).
        core.texts.phones.clear();
        core.texts.made.clear();
        // When taxpayers came on earlier days, the one just ended included.
        match store.arrival_curves(core.state.day()) {
            Ok(c) => core.state.set_arrival_curves(c.map(Arc::new)),
            Err(e) => tracing::warn!(error = %e, "the arrival history cannot be read; estimates use the last hour's rate"),
        }
    }
    acc.emit(core, tick, now);

    for job in &jobs {
        let result = match &job.req {
            Request::Domain(Command::Issue { hall, service, request_id: Some(rid), .. })
                if core.state.ticket_by_request(rid).is_some() =>
            {
                let t = core.state.ticket_by_request(rid).expect("checked");
                if t.issued_hall == *hall && t.issued_service == *service {
                    again(core, t.id, now)
                } else {
                    Err(EngineError::RequestIdReused)
                }
            }
            // A booking for today at a hall cut off from here could not reach it in time.
            Request::Domain(Command::Book { hall, date, .. }) if *date == core.state.day() && core.link(*hall).is_some_and(|l| !l.online) => {
                Err(EngineError::UpstreamUnavailable(core.state.topology().halls[*hall].id.clone()))
            }
            Request::Domain(cmd) => match core.state.apply(cmd.clone(), now) {
                Ok(events) => {
                    let mine = acc.emit(core, events, now);
                    Ok(answer(core, cmd, &mine))
                }
                Err(DomainError::RepeatedTicket(id)) => again(core, id, now),
                Err(DomainError::RepeatedBooking(id)) => match core.state.bookings().by_id.get(&id) {
                    Some(b) => Ok(Outcome::Booking { booking: Box::new(b.clone()), again: true }),
                    None => Err(EngineError::Store(format!("booking {id} is not in memory"))),
                },
                Err(DomainError::RequestIdReused) => Err(EngineError::RequestIdReused),
                Err(e) => Err(EngineError::from(e)),
            },
            Request::SignIn { counter, clerk, token_hash, take_over, pin_fp } => {
                acc.sign_in(core, (*counter, clerk, token_hash, *take_over, pin_fp), now).map(|_| Outcome::Done)
            }
            Request::SignOut { counter, token_hash } => core
                .state
                .apply(Command::SignOut { counter: *counter }, now)
                .map(|events| {
                    core.sessions.remove(token_hash);
                    acc.sessions_remove.push(token_hash.clone());
                    acc.counters.insert(*counter);
                    acc.emit(core, events, now);
                    Outcome::Done
                })
                .map_err(EngineError::from),
            Request::EndSessions { token_hashes } => {
                for t in token_hashes {
                    acc.end_session(core, t, now);
                }
                Ok(Outcome::Done)
            }
            Request::ExpireIdle { idle_ms } => {
                let idle: Vec<String> =
                    core.sessions.iter().filter(|(_, s)| s.idle_ms(now) > *idle_ms).map(|(k, _)| k.clone()).collect();
                for t in idle {
                    tracing::info!(clerk = %core.sessions[&t].clerk, "session idle too long; ended");
                    acc.end_session(core, &t, now);
                }
                Ok(Outcome::Done)
            }
            Request::Audit(row) => {
                acc.audit.push(row.clone());
                Ok(Outcome::Done)
            }
            Request::Renew => Ok(Outcome::Done),
            Request::EdgeLog { hall, device, upload } => {
                core.device_seen.insert(device.clone(), now);
                let id = core.state.topology().halls[*hall].id.clone();
                let held = acc.edge_held.get(&id).or(core.edge_held.get(&id)).copied().unwrap_or(0);
                // Those held already are skipped (an upload repeated after a lost answer); the
                // rest must follow on without a gap.
                let fresh: Vec<&wire::EdgeEvent> = upload.events.iter().filter(|e| e.seq > held).collect();
                if fresh.iter().enumerate().any(|(i, e)| e.seq != held + 1 + i as u64) {
                    Err(EngineError::EdgeGap(held))
                } else {
                    let now_held = fresh.last().map_or(held, |e| e.seq);
                    // The hall's events go on to this server's streams too (its kiosks show
                    // the hall's waits, the duty leader its figures), each once: as stored.
                    for e in &fresh {
                        let Ok(mut msg) = serde_json::from_str::<wire::StreamMessage>(&e.body) else { continue };
                        if msg.hall.as_deref() != Some(id.as_str()) {
                            continue;
                        }
                        // How the hall's bookings ended: its word counts here (no-shows, bans).
                        if let wire::EventKind::BookingSettled { booking, outcome, ticket } = &msg.kind {
                            let outcome = match (outcome, ticket) {
                                (wire::BookingOutcome::CheckedIn, Some(t)) => crate::domain::Settled::CheckedIn { ticket: *t },
                                (wire::BookingOutcome::CheckedIn, None) => continue,
                                (wire::BookingOutcome::NoShow, _) => crate::domain::Settled::NoShow,
                            };
                            match core.state.apply(Command::Settle { booking: *booking, outcome, at: e.at }, now) {
                                Ok(events) => {
                                    for ev in &events {
                                        if let Some(b) = ev.booking().filter(|b| b.conflict_at.is_some() && b.changed_at == Some(e.at)) {
                                            acc.audit.push(conflict_audit(&core.state, b, now));
                                        }
                                    }
                                    acc.emit(core, events, now);
                                }
                                Err(err) => tracing::warn!(error = %err, booking, "a hall edge's booking outcome was not applied"),
                            }
                            continue;
                        }
                        if !mirrored_kind(&msg.kind) {
                            continue;
                        }
                        core.seq += 1;
                        msg.seq = core.seq;
                        acc.push(core.seq, vec![*hall], msg);
                    }
                    acc.edge_events.extend(fresh.into_iter().map(|e| (id.clone(), e.clone())));
                    acc.edge_tickets.extend(upload.tickets.iter().cloned());
                    acc.edge_held.insert(id.clone(), now_held);
                    let m = core.mirrors.entry(*hall).or_insert(Mirror { hall: None, overview: None, seen_at: now, cut_since: Some(now) });
                    let back = m.cut_since.is_some();
                    m.seen_at = now;
                    m.cut_since = None;
                    if let Some(o) = &upload.hall {
                        m.hall = Some(Box::new(o.hall.clone()));
                        m.overview = Some(o.clone());
                    }
                    *acc.mirrors.entry(*hall).or_default() |= upload.hall.is_some();
                    if back {
                        tracing::info!(hall = %id, "the hall's edge is heard from again");
                        acc.link_changed(core, *hall, now);
                    }
                    Ok(Outcome::EdgeHeld(now_held))
                }
            }
            Request::Feed(feed) => Ok(acc.apply_feed(core, feed, now)),
            Request::Takeover { hall, skip } => {
                let topo = core.state.topology().clone();
                let (id, day) = (topo.halls[*hall].id.clone(), core.state.day().to_string());
                let read = store.read(|db| Ok((crate::queries::edge_last_numbers(db, &topo, &id, &day)?, crate::queries::edge_tickets_of_day(db, &id, &day)?)));
                match read {
                    Err(e) => Err(EngineError::Store(e.to_string())),
                    Ok((last, rows)) => {
                        let after: Vec<u32> = last.iter().map(|n| n + skip).collect();
                        let waiting = rows.iter().filter(|r| r.hall == id && r.state == "waiting").filter_map(|r| view::adopted_ticket(&topo, r)).collect();
                        core.state.take_over(*hall, &after, waiting).map_err(EngineError::from).map(|events| {
                            acc.emit(core, events, now);
                            let held = acc.edge_held.get(&id).or(core.edge_held.get(&id)).copied().unwrap_or(0);
                            acc.takeovers.push((id.clone(), now, *skip, held));
                            core.mirrors.remove(hall);
                            Outcome::TakenOver((0..topo.services.len()).map(|s| topo.number(s, after[s] + 1)).collect())
                        })
                    }
                }
            }
            Request::Forward { hall, item } => {
                acc.feed.push((*hall, item.clone()));
                Ok(Outcome::Done)
            }
            Request::Purge { audit_days, clerk_days } => {
                let topo = core.state.topology();
                let today = topo.local(now).0;
                acc.purge = Some(crate::store::Purge {
                    audit_before: now - i64::from(*audit_days) * 86_400_000,
                    clerks_before: today - chrono::Duration::days(i64::from(*clerk_days)),
                    bookings_before: today - chrono::Duration::days(i64::from(topo.appointments.retention_days)),
                    today,
                });
                Ok(Outcome::Done)
            }
            Request::CaseReasons { ticket, reasons } => acc
                .case(store, crate::store::CaseKey::Ticket(*ticket))
                .map(|c| c.reasons = reasons.clone())
                .map(|()| Outcome::Done),
            Request::CaseNote { id, note, close } => acc
                .case(store, crate::store::CaseKey::Id(*id))
                .map(|c| {
                    c.notes.push(note.clone());
                    c.closed = close.clone().map(|summary| (note.by.clone(), note.at.timestamp_millis(), summary));
                })
                .map(|()| Outcome::Done),
            Request::Outbox(u) => {
                acc.outbox_updates.push(u.clone());
                Ok(Outcome::Done)
            }
            Request::CheckAlerts(rules) => {
                let mut conditions = crate::alerts::conditions(&core.state, &core.devices, &core.device_seen, now, rules);
                conditions.extend(crate::alerts::health_conditions(&shared.signals.health(), now));
                // At the core, each hall edge not heard from; at an edge, its own hall, cut off
                // from the core (the other halls are not cut: this one is).
                let mut cut: Vec<(usize, Millis)> = core.mirrors.iter().filter_map(|(&h, m)| m.cut_since.map(|t| (h, t))).collect();
                if !core.state.is_central() {
                    let own = (0..core.state.topology().halls.len()).find(|h| !core.state.runs_elsewhere(*h));
                    cut = own.zip(cut.iter().map(|&(_, t)| t).min()).into_iter().collect();
                }
                conditions.extend(crate::alerts::link_conditions(core.state.topology(), cut, core.state.is_central(), now));
                let live: BTreeSet<&str> = conditions.iter().map(|c| c.key.as_str()).collect();
                let ended: Vec<String> = core.alerts.keys().filter(|k| !live.contains(k.as_str())).cloned().collect();
                for key in ended {
                    let mut alert = core.alerts.remove(&key).expect("listed");
                    alert.cleared_at = Some(view::time(now));
                    acc.alert(core, key, alert, AlertChange::Cleared, rules, now);
                }
                for c in conditions {
                    if core.alerts.contains_key(&c.key) {
                        continue;
                    }
                    let topo = core.state.topology();
                    let alert = wire::Alert {
                        id: core.next_alert_id,
                        kind: c.kind,
                        hall: c.hall.map(|h| topo.halls[h].id.clone()).unwrap_or_default(),
                        counter: c.counter.map(|x| topo.counters[x].id.clone()),
                        ticket: c.ticket,
                        number: c.ticket.and_then(|t| core.state.ticket(t)).map(|t| core.state.number(t)),
                        device: c.device,
                        message: c.message,
                        advice: c.advice,
                        raised_at: view::time(now),
                        cleared_at: None,
                        acked_by: None,
                        acked_at: None,
                    };
                    core.next_alert_id += 1;
                    core.alerts.insert(c.key.clone(), alert.clone());
                    acc.alert(core, c.key, alert, AlertChange::Raised, rules, now);
                }
                Ok(Outcome::Done)
            }
            Request::AckAlert { id, by } => {
                let live = core.alerts.iter().find(|(_, a)| a.id == *id).map(|(k, a)| (k.clone(), a.clone()));
                let found = match live {
                    Some(x) => Ok(Some(x)),
                    None => store.alert(*id).map_err(|e| EngineError::Store(e.to_string())),
                };
                match found {
                    Err(e) => Err(e),
                    Ok(None) => Err(EngineError::UnknownAlert),
                    Ok(Some((_, alert))) if alert.acked_at.is_some() => Ok(Outcome::Alert(alert)),
                    Ok(Some((key, mut alert))) => {
                        alert.acked_by = Some(by.clone());
                        alert.acked_at = Some(view::time(now));
                        if let Some(a) = core.alerts.get_mut(&key) {
                            *a = alert.clone();
                        }
                        acc.alert(core, key, alert.clone(), AlertChange::Acknowledged, &crate::alerts::Rules::default(), now);
                        Ok(Outcome::Alert(alert))
                    }
                }
            }
            Request::SetPhone { ticket, phone } => match core.state.ticket(*ticket) {
                None => Err(EngineError::Domain(DomainError::UnknownTicket)),
                Some(t) if t.state != crate::domain::TicketState::Waiting || t.day != core.state.day() => {
                    Err(EngineError::Domain(DomainError::WrongTicketState {
                        number: core.state.number(t),
                        state: t.state,
                        expected: "waiting",
                        action: "leave a number for",
                    }))
                }
                Some(t) => {
                    core.texts.phones.insert(t.id, phone.clone());
                    acc.phones.push(crate::store::PhoneRow { ticket: t.id, day: t.day, phone: phone.clone(), at: now });
                    Ok(Outcome::Done)
                }
            },
            Request::IssueRemote { cmd, phone } => {
                let Command::IssueRemote { hall, request_id, .. } = cmd else { unreachable!("built by its handler") };
                let day = core.state.day();
                let taken = core.state.tickets().find(|t| {
                    t.remote.is_some()
                        && t.issued_hall == *hall
                        && t.day == day
                        && t.request_id.as_deref() != Some(request_id.as_str())
                        && core.texts.phones.get(&t.id) == Some(phone)
                });
                match taken {
                    Some(t) => Err(EngineError::RemoteTaken(core.state.number(t))),
                    None => match core.state.apply(cmd.clone(), now) {
                        Ok(events) => {
                            let mine = acc.emit(core, events, now);
                            let outcome = answer(core, cmd, &mine);
                            if let Outcome::Ticket { ticket, .. } = &outcome {
                                core.texts.phones.insert(ticket.id, phone.clone());
                                acc.phones.push(crate::store::PhoneRow { ticket: ticket.id, day, phone: phone.clone(), at: now });
                            }
                            Ok(outcome)
                        }
                        Err(DomainError::RepeatedTicket(id)) => again(core, id, now),
                        Err(DomainError::RequestIdReused) => Err(EngineError::RequestIdReused),
                        Err(e) => Err(EngineError::from(e)),
                    },
                }
            }
            Request::Notice(u) => {
                acc.notice_updates.push(u.clone());
                Ok(Outcome::Done)
            }
            Request::Forecast(f) => {
                let hall = f.hall;
                if hall < core.state.topology().halls.len() && core.state.publish_forecast(f.clone()) {
                    core.seq += 1;
                    let msg = wire::StreamMessage {
                        seq: core.seq,
                        at: view::time(now),
                        hall: Some(core.state.topology().halls[hall].id.clone()),
                        kind: wire::EventKind::EstimatesChanged,
                        queues: view::queues(&core.state, hall, now),
                    };
                    acc.push(core.seq, vec![hall], msg);
                }
                Ok(Outcome::Done)
            }
            Request::DeviceStatus { device, hall, status } => {
                let changed = core
                    .devices
                    .get(device)
                    .is_none_or(|(_, old)| (old.ok, &old.code, &old.message) != (status.ok, &status.code, &status.message));
                let hall_id = core.state.topology().halls[*hall].id.clone();
                core.device_seen.insert(device.clone(), now);
                if changed {
                    core.devices.insert(device.clone(), (*hall, status.clone()));
                    acc.devices.push((device.clone(), serde_json::to_string(&(hall_id.clone(), status)).unwrap_or_default()));
                    core.seq += 1;
                    let msg = wire::StreamMessage {
                        seq: core.seq,
                        at: view::time(now),
                        hall: Some(hall_id),
                        kind: wire::EventKind::DeviceStatusChanged { status: status.clone() },
                        queues: vec![],
                    };
                    acc.push(core.seq, vec![*hall], msg);
                }
                Ok(Outcome::Done)
            }
        };
        if let (Ok(_), Some(row)) = (&result, &job.audit) {
            acc.audit.push(row.clone());
        }
        results.push(result);
    }

    // Text messages the batch's events made due go out with them.
    if !core.texts.phones.is_empty() && (!acc.out.is_empty() || !acc.phones.is_empty()) {
        acc.notices = core.texts.due(&core.state, now);
    }

    let mut commit_took = std::time::Duration::ZERO;
    let nothing_to_write = acc.out.is_empty()
        && acc.phones.is_empty()
        && acc.notices.is_empty()
        && acc.notice_updates.is_empty()
        && acc.bookings.is_empty()
        && acc.devices.is_empty()
        && acc.sessions_add.is_empty()
        && acc.sessions_remove.is_empty()
        && !acc.sessions_clear
        && acc.audit.is_empty()
        && acc.case_updates.is_empty()
        && acc.outbox_updates.is_empty()
        && acc.edge_events.is_empty()
        && acc.edge_tickets.is_empty()
        && acc.mirrors.is_empty()
        && acc.feed.is_empty()
        && acc.feed_held.is_none()
        && acc.takeovers.is_empty()
        && acc.purge.is_none();
    let seq_before = core.seq - acc.out.len() as u64;
    // The feed's items, numbered per hall.
    let mut feed_last = BTreeMap::new();
    let feed_rows: Vec<crate::store::FeedRow> = acc
        .feed
        .iter()
        .map(|(h, kind)| {
            let seq = feed_last.entry(*h).or_insert_with(|| core.feed.get(h).copied().unwrap_or(0));
            *seq += 1;
            let item = wire::EdgeFeedItem { seq: *seq, at: now, kind: kind.clone() };
            crate::store::FeedRow { hall: core.state.topology().halls[*h].id.clone(), seq: *seq, at: now, body: serde_json::to_string(&item).expect("wire types serialise") }
        })
        .collect();
    let commit = if nothing_to_write {
        store.keep_lease().map(|()| crate::store::Purged::default())
    } else {
        let st = &core.state;
        let batch = Batch {
            day: Some(st.day()),
            expire_before: acc.expire_before,
            carried: acc.expire_before.map(|day| st.tickets().filter(|t| t.day < day).map(|t| t.id).collect()),
            tickets: acc.tickets.iter().filter_map(|id| st.ticket(*id)).collect(),
            counters: acc.counters.iter().map(|&c| (c, st.counter(c))).collect(),
            events: acc
                .out
                .iter()
                .map(|b| EventRow { seq: b.seq, at: now, hall: b.msg.hall.as_deref(), kind: kind_name(&b.msg.kind), body: &b.json })
                .collect(),
            sessions_clear: acc.sessions_clear,
            sessions_add: std::mem::take(&mut acc.sessions_add),
            sessions_remove: std::mem::take(&mut acc.sessions_remove),
            publicity: acc.publicity.iter().map(|&h| (h, st.publicity(h))).collect(),
            devices: std::mem::take(&mut acc.devices),
            bookings: acc.bookings.values().collect(),
            bans: acc
                .persons
                .iter()
                .map(|p| (p.as_str(), st.bookings().records.get(p).and_then(|r| r.banned_until)))
                .collect(),
            pauses: std::mem::take(&mut acc.pauses),
            alerts: std::mem::take(&mut acc.alerts),
            outbox: std::mem::take(&mut acc.outbox),
            cases: std::mem::take(&mut acc.cases),
            case_updates: std::mem::take(&mut acc.case_updates).into_values().collect(),
            outbox_updates: std::mem::take(&mut acc.outbox_updates),
            audit: std::mem::take(&mut acc.audit),
            purge: acc.purge,
            phones: std::mem::take(&mut acc.phones),
            notices: std::mem::take(&mut acc.notices),
            notice_updates: std::mem::take(&mut acc.notice_updates),
            edge_events: acc.edge_events.iter().map(|(h, e)| (h.as_str(), e)).collect(),
            edge_tickets: acc.edge_tickets.iter().collect(),
            edge_halls: acc
                .mirrors
                .iter()
                .filter_map(|(&h, &with)| core.mirrors.get(&h).map(|m| m.row(&st.topology().halls[h].id, with)))
                .collect(),
            edge_feed: feed_rows,
            feed_held: acc.feed_held,
            takeovers: std::mem::take(&mut acc.takeovers),
        };
        let t = std::time::Instant::now();
        let r = store.commit(&batch);
        commit_took = t.elapsed();
        shared.commits.fetch_add(1, Ordering::Relaxed);
        shared.commit_seconds.observe(commit_took.as_secs_f64());
        r
    };

    match commit {
        Ok(purged) => {
            if purged.audit + purged.clerks + purged.bookings > 0 {
                tracing::info!(audit = purged.audit, clerks = purged.clerks, bookings = purged.bookings, "old personal data and audit entries purged");
            }
            shared.batches_applied.fetch_add(1, Ordering::Relaxed);
            shared.committed_seq.store(core.seq, Ordering::Relaxed);
            core.edge_held.extend(std::mem::take(&mut acc.edge_held));
            core.feed.extend(feed_last);
            if let Some(n) = acc.feed_held {
                core.feed.insert(usize::MAX, n);
            }
            {
                let mut h = shared.health.lock();
                // Only a commit that wrote something shows the store works again.
                if !nothing_to_write {
                    h.last_error = None;
                }
                if acc.expire_before.is_some() {
                    h.day = core.state.day().to_string();
                }
            }
            for b in acc.out {
                core.ring.push_back(b.clone());
                if core.ring.len() > RING {
                    core.ring.pop_front();
                }
                // No subscribers is fine.
                let _ = shared.events.send(b);
            }
        }
        Err(err) if err.is_fenced() => {
            tracing::error!(error = %err, "another server holds the writer's lease: this one takes no more changes and stops");
            shared.health.lock().last_error = Some(err.to_string());
            shared.fenced.store(true, Ordering::Relaxed);
            let _ = shared.fenced_tx.send(true);
            for r in &mut results {
                *r = Err(EngineError::Fenced(err.to_string()));
            }
        }
        Err(err) => {
            // Nothing of this batch is stored (or, when the connection broke during COMMIT,
            // maybe all of it): memory becomes again exactly what the store holds.
            tracing::error!(error = %err, "commit failed; reloading state from the database");
            shared.health.lock().last_error = Some(err.to_string());
            let applied_seq = core.seq;
            match Durable::load(store, now) {
                Ok(d) => {
                    // The outcome of a COMMIT whose connection broke is unknown; the stored
                    // sequence tells. Its callers still get an error (their retries are safe:
                    // issuing is idempotent by request_id, a repeated call-next is refused), but
                    // its events are told, so no stream misses them.
                    let stored = applied_seq > seq_before && d.seq >= applied_seq;
                    core.reloaded(d);
                    if stored {
                        tracing::warn!(seq = applied_seq, "the failed commit was stored after all: its events are sent");
                        shared.committed_seq.store(core.seq, Ordering::Relaxed);
                        for b in std::mem::take(&mut acc.out) {
                            core.ring.push_back(b.clone());
                            if core.ring.len() > RING {
                                core.ring.pop_front();
                            }
                            let _ = shared.events.send(b);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "reload failed; every change is refused until it succeeds");
                    *needs_reload = true;
                }
            }
            for r in &mut results {
                if r.is_ok() {
                    *r = Err(EngineError::Store(err.to_string()));
                }
            }
        }
    }
    drop(guard);
    for (job, result) in jobs.into_iter().zip(results) {
        let _ = job.reply.send(result);
    }
    commit_took
}

/// At a hall edge: the command a feed item asks for (`None`: it names a service not known).
fn feed_command(st: &State, kind: &wire::EdgeFeedKind) -> Option<Command> {
    let topo = st.topology();
    // The one hall this edge runs.
    let hall = (0..topo.halls.len()).find(|h| !st.runs_elsewhere(*h))?;
    Some(match kind {
        wire::EdgeFeedKind::Booked { booking: b } => Command::Receive(crate::domain::Received::Booking(Box::new(Booking {
            id: b.id,
            code: b.code.clone(),
            hall,
            service: topo.service_ix(&b.service)?,
            date: b.date.parse().ok()?,
            slot: b.slot,
            who: crate::domain::Person { person: b.person.clone(), name: b.name.clone(), phone: b.phone.clone() },
            state: crate::domain::BookingState::Booked,
            created_at: b.created_at,
            changed_at: None,
            ticket: None,
            request_id: b.request_id.clone(),
            conflict_at: None,
        }))),
        wire::EdgeFeedKind::BookingCancelled { booking } => Command::Receive(crate::domain::Received::Cancelled { booking: *booking }),
        wire::EdgeFeedKind::Publicity { messages } => Command::SetPublicity { hall, messages: messages.clone() },
        wire::EdgeFeedKind::Transfer { ticket, from_counter } => {
            Command::Adopt { ticket: Box::new(view::adopted_ticket(topo, ticket)?), from_counter: topo.counter_ix(from_counter)? }
        }
    })
}

/// At the core: what a domain event sends the edge of its hall, if a hall edge runs it.
fn feed_item(st: &State, e: &Event) -> Option<(usize, wire::EdgeFeedKind)> {
    if !st.is_central() {
        return None;
    }
    let topo = st.topology();
    let item = match e {
        Event::BookingMade { booking: b } => (
            b.hall,
            wire::EdgeFeedKind::Booked {
                booking: wire::EdgeBooking {
                    id: b.id,
                    code: b.code.clone(),
                    service: topo.services[b.service].id.clone(),
                    date: b.date.to_string(),
                    slot: b.slot,
                    person: b.who.person.clone(),
                    name: b.who.name.clone(),
                    phone: b.who.phone.clone(),
                    created_at: b.created_at,
                    request_id: b.request_id.clone(),
                },
            },
        ),
        Event::BookingCancelled { booking: b } => (b.hall, wire::EdgeFeedKind::BookingCancelled { booking: b.id }),
        Event::PublicityUpdated { hall, messages } => (*hall, wire::EdgeFeedKind::Publicity { messages: messages.clone() }),
        Event::TicketTransferred { ticket, from_counter, .. } => {
            let t = st.ticket(*ticket).filter(|t| t.state == crate::domain::TicketState::Moved)?;
            (t.hall, wire::EdgeFeedKind::Transfer { ticket: view::edge_ticket(st, t), from_counter: topo.counters[*from_counter].id.clone() })
        }
        _ => return None,
    };
    st.runs_elsewhere(item.0).then_some(item)
}

/// The audit entry of a booking whose cancellation here its hall overruled (it was checked in
/// there meanwhile).
fn conflict_audit(st: &State, b: &Booking, now: Millis) -> crate::store::AuditRow {
    let topo = st.topology();
    crate::store::AuditRow {
        at: now,
        actor: format!("edge:{}", topo.halls[b.hall].id),
        action: "edge_conflict".into(),
        target: format!("booking:{}", b.id),
        detail: format!(
            "预约 {} {}（{}）已在中心取消，但已在{}签到，以本厅为准 · cancelled here, checked in at the hall: the hall's facts stand",
            b.date,
            crate::domain::calendar::format_minute(b.slot),
            crate::domain::appointments::mask_name(&b.who.name),
            topo.halls[b.hall].name_zh
        ),
        client: "-".into(),
    }
}

/// Which of a hall edge's events the core's streams carry on: the hall's own, not its
/// alerts (the edge's duty leader has them; the core raises its own) nor its day's turn.
fn mirrored_kind(k: &wire::EventKind) -> bool {
    use wire::EventKind as K;
    !matches!(
        k,
        K::Snapshot { .. }
            | K::DayRolledOver { .. }
            | K::AlertRaised { .. }
            | K::AlertCleared { .. }
            | K::AlertAcknowledged { .. }
            | K::HallLinkChanged { .. }
            | K::HallMirrored
            | K::BookingSettled { .. }
    )
}

fn kind_name(k: &wire::EventKind) -> &'static str {
    use wire::EventKind as K;
    match k {
        K::Snapshot { .. } => "snapshot",
        K::TicketIssued { .. } => "ticket_issued",
        K::TicketCalled { .. } => "ticket_called",
        K::TicketFinished { .. } => "ticket_finished",
        K::TicketNoShow { .. } => "ticket_no_show",
        K::TicketTransferred { .. } => "ticket_transferred",
        K::TicketRequeued { .. } => "ticket_requeued",
        K::TicketRated { .. } => "ticket_rated",
        K::TicketHeld { .. } => "ticket_held",
        K::TicketCheckedIn { .. } => "ticket_checked_in",
        K::TicketLapsed { .. } => "ticket_lapsed",
        K::CounterOpened { .. } => "counter_opened",
        K::CounterClosed { .. } => "counter_closed",
        K::CounterPaused { .. } => "counter_paused",
        K::CounterResumed { .. } => "counter_resumed",
        K::DayRolledOver { .. } => "day_rolled_over",
        K::PublicityUpdated { .. } => "publicity_updated",
        K::DeviceStatusChanged { .. } => "device_status_changed",
        K::SlotChanged { .. } => "slot_changed",
        K::AppointmentNoShow { .. } => "appointment_no_show",
        K::IssuingChanged => "issuing_changed",
        K::EstimatesChanged => "estimates_changed",
        K::AlertRaised { .. } => "alert_raised",
        K::AlertCleared { .. } => "alert_cleared",
        K::AlertAcknowledged { .. } => "alert_acknowledged",
        K::HallLinkChanged { .. } => "hall_link_changed",
        K::HallMirrored => "hall_mirrored",
        K::HallTakenOver => "hall_taken_over",
        K::BookingSettled { .. } => "booking_settled",
    }
}

#[cfg(test)]
mod tests;
