//! Hall state, tickets, issuing, sign-in, device status, publicity, health. Each handler: parse
//! strictly, authorise, submit to the engine, answer.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::extract::{clip, counter_ix, hall_ix, service_ix, ticket_id, HallAt, ItsHallsClerk, TicketAt};
use super::{AppError, AppState, Caller, ClientAddr, JsonBody, MaybeCaller, NoBody, SupervisorCaller};
use crate::auth::Principal;
use crate::secret::{dummy_hash, hash_token, new_token, verify_pin};
use crate::domain::{Command, TicketId};
use crate::engine::{Outcome, Request};
use crate::view;

/// Whether the server can take changes. Reads no state behind the writer's lock, so it
/// answers while a commit is stuck; 503 when the store cannot write (the last commit failed,
/// the disk is nearly full, the clock is behind the stored business day).
pub async fn healthz(State(s): State<AppState>) -> axum::response::Response {
    let shared = &s.engine.shared;
    let seq = shared.committed_seq.load(std::sync::atomic::Ordering::Relaxed);
    let status = shared.health.lock().clone();
    let free_bytes = if s.cfg.postgres.is_some() { None } else { crate::store::free_space(&s.cfg.db) };
    let mut problems = Vec::new();
    if let Some(e) = &status.last_error {
        problems.push(format!("the last commit failed: {e}"));
    }
    if let Some(f) = free_bytes.filter(|&f| f < s.cfg.min_free_bytes) {
        problems.push(format!("only {} MB free on the database's disk", f / (1024 * 1024)));
    }
    let clock_day = s.cfg.topology.business_day(s.clock.now()).to_string();
    if clock_day < status.day {
        problems.push(format!("the clock's day {clock_day} is before the business day {}: changes wait until the clock is right", status.day));
    }
    let body = wire::HealthResponse {
        status: if problems.is_empty() { "ok" } else { "failing" }.into(),
        role: "active".into(),
        active: None,
        // Events are numbered without gaps, so what waits is the count past what the core holds.
        upstream: upstream(&s, seq),
        seq,
        store: wire::StoreHealth { last_commit_ok: status.last_error.is_none(), last_error: status.last_error, free_bytes, day: status.day },
        problems,
    };
    let code = if body.problems.is_empty() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(body)).into_response()
}

/// Counters for operators and the benchmark (supervisor only).
pub async fn metrics(State(s): State<AppState>, _: SupervisorCaller) -> Result<Json<wire::MetricsResponse>, AppError> {
    let shared = &s.engine.shared;
    let (seq, tickets_in_memory, subscribers) = {
        let core = shared.core.read().await;
        (core.seq, core.state.tickets().count() as u64, shared.stream_subscribers())
    };
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    Ok(Json(wire::MetricsResponse {
        seq,
        commits: load(&shared.commits),
        batches: load(&shared.batches_applied),
        writer_busy_us: load(&shared.writer_busy_us),
        tickets_in_memory,
        subscribers,
    }))
}

pub async fn not_found() -> AppError {
    AppError::new(ErrorCode::NotFound, "no such endpoint")
}

pub async fn method_not_allowed() -> AppError {
    AppError::new(ErrorCode::MethodNotAllowed, "this endpoint does not take that method")
}

/// Every hall's state; a caller without a token sees what the halls' public screens show.
pub async fn halls(State(s): State<AppState>, MaybeCaller(who): MaybeCaller) -> Json<wire::HallsResponse> {
    let core = s.engine.shared.core.read().await;
    let now = s.clock.now();
    let mut halls = core.halls_info(&s.cfg.public_base_url, now);
    if who.is_none() {
        halls = halls.into_iter().map(view::public_hall).collect();
    }
    Json(wire::HallsResponse { version: wire::API_VERSION, seq: core.seq, at: view::time(now), halls })
}

pub async fn hall(State(s): State<AppState>, MaybeCaller(who): MaybeCaller, Path(hall): Path<String>) -> Result<Json<wire::HallInfo>, AppError> {
    let h = hall_ix(&s, &hall)?;
    let core = s.engine.shared.core.read().await;
    let info = core.hall_info(&s.cfg.public_base_url, h, s.clock.now());
    Ok(Json(if who.is_none() { view::public_hall(info) } else { info }))
}

/// A hall edge's link to the core as of `seq` committed: what waits is the count past what the
/// core holds (events are numbered without gaps).
pub fn upstream(s: &AppState, seq: u64) -> Option<wire::UpstreamHealth> {
    s.upstream.lock().clone().map(|mut u| {
        u.pending = seq.saturating_sub(u.held);
        if u.pending == 0 {
            u.oldest_pending_at = None;
        }
        u
    })
}

pub async fn ticket_view(s: &AppState, id: TicketId) -> Option<wire::Ticket> {
    let core = s.engine.shared.core.read().await;
    core.state.ticket(id).map(|t| view::ticket(&core.state, t, s.clock.now()))
}

/// A ticket from memory, or else from the database (an earlier day's).
pub async fn find_ticket(s: &AppState, id: TicketId) -> Result<Option<wire::Ticket>, AppError> {
    if let Some(t) = ticket_view(s, id).await {
        return Ok(Some(t));
    }
    let topo = s.cfg.topology.clone();
    let (found, edge) = super::read(s, move |conn| {
        Ok(match crate::queries::ticket(conn, &topo, id)? {
            Some(t) => (Some(t), false),
            None => (crate::queries::edge_ticket_view(conn, &topo, id)?, true),
        })
    })
    .await?;
    // A hall edge's ticket: its wait told from the hall as its server last told, in proportion
    // to the people ahead of it.
    let Some(mut t) = found else { return Ok(None) };
    if edge && t.state == wire::TicketState::Waiting {
        let core = s.engine.shared.core.read().await;
        if let Some(h) = s.cfg.topology.hall_ix(&t.hall) {
            let info = core.hall_info(&s.cfg.public_base_url, h, s.clock.now());
            if let Some(sv) = info.services.iter().find(|x| x.id == t.service) {
                t.est_wait_s = (u64::from(sv.est_wait_s) * u64::from(t.waiting_ahead) / u64::from(sv.waiting.max(1))) as u32;
                t.unstaffed = sv.unstaffed;
            }
        }
    }
    Ok(Some(t))
}

pub async fn issue(
    State(s): State<AppState>,
    HallAt { h }: HallAt,
    JsonBody(req): JsonBody<wire::IssueRequest>,
) -> Result<impl IntoResponse, AppError> {
    let service = service_ix(&s, &req.service)?;
    if let Some(r) = &req.request_id {
        if r.is_empty() || r.len() > 64 || !r.chars().all(|c| c.is_ascii_graphic()) {
            return Err(AppError::new(ErrorCode::BadRequestId, "request_id must be 1-64 printable ASCII characters"));
        }
    }
    let cmd = Command::Issue { hall: h, service, priority: req.priority.unwrap_or_default(), request_id: req.request_id };
    match s.engine.submit(Request::Domain(cmd)).await? {
        Outcome::Ticket { mut ticket, again } => {
            ticket.page = Some(s.ticket_link(ticket.id));
            Ok((if again { StatusCode::OK } else { StatusCode::CREATED }, Json(ticket)))
        }
        other => Err(AppError::internal(format!("issue answered {other:?}"))),
    }
}

/// `GET /api/v1/halls/{hall}/requests/{request_id}`: the ticket today's issue request with this
/// id made, if any (a kiosk settles a request whose answer it never got; nothing is issued).
pub async fn by_request(
    State(s): State<AppState>,
    HallAt { h }: HallAt,
    Path((_, request_id)): Path<(String, String)>,
) -> Result<Json<wire::Ticket>, AppError> {
    let core = s.engine.shared.core.read().await;
    core.state
        .ticket_by_request(&request_id)
        .filter(|t| t.issued_hall == h)
        .map(|t| {
            let mut v = view::ticket(&core.state, t, s.clock.now());
            v.page = Some(s.ticket_link(t.id));
            Json(v)
        })
        .ok_or_else(|| AppError::new(ErrorCode::UnknownRequest, format!("no ticket for request `{}` today", clip(&request_id))))
}

pub async fn ticket(State(s): State<AppState>, Path(id): Path<String>) -> Result<Json<wire::Ticket>, AppError> {
    let id = ticket_id(&id)?;
    find_ticket(&s, id).await?.map(Json).ok_or_else(|| AppError::new(ErrorCode::UnknownTicket, format!("no ticket {id}")))
}

pub async fn requeue(State(s): State<AppState>, TicketAt { id, .. }: TicketAt<ItsHallsClerk>, NoBody: NoBody) -> Result<Json<wire::Ticket>, AppError> {
    s.engine.submit(Request::Domain(Command::Requeue { ticket: id })).await?;
    ticket_view(&s, id).await.map(Json).ok_or_else(|| AppError::internal("requeued ticket vanished"))
}

/// Checks a PIN or password for `account` through the sign-in limiter and the hash pool. An
/// unknown account is checked against a dummy hash (it takes as long). Failures are counted
/// and logged with the client's address.
pub async fn check_secret(
    s: &AppState,
    account: &str,
    secret: &str,
    hash: Option<&str>,
    addr: Option<std::net::IpAddr>,
) -> Result<(), AppError> {
    let now = s.clock.now();
    let locked = |l: crate::signin::Locked| {
        let what = match l.what {
            crate::signin::LockedWhat::Address => "this address",
            crate::signin::LockedWhat::AccountHere => "this account from this address",
            crate::signin::LockedWhat::Account => "this account",
        };
        AppError::new(ErrorCode::SigninLocked, format!("too many wrong PINs for {what}; try again in {} s", l.retry_after_s()))
            .retry_after(l.retry_after_s())
    };
    s.limiter.check(account, addr, now).map_err(locked)?;
    let secret = secret.chars().take(64).collect::<String>();
    let target = hash.unwrap_or_else(|| dummy_hash()).to_string();
    let ok = s
        .hashes
        .run(move || verify_pin(&secret, &target))
        .await
        .map_err(|_| AppError::new(ErrorCode::ServerBusy, "too many sign-ins at once; try again in a moment").retry_after(1))?;
    if ok && hash.is_some() {
        s.limiter.succeeded(account, addr);
        return Ok(());
    }
    let lock = s.limiter.failed(account, addr, s.clock.now());
    super::audit(s, account, "sign_in_failed", "", if lock.is_some() { "locked" } else { "" }, addr).await;
    let addr_text = addr.map(|a| a.to_string()).unwrap_or_else(|| "-".into());
    tracing::warn!(account, client = %addr_text, known = hash.is_some(), locked = lock.is_some(), "wrong PIN or password");
    match lock {
        Some(l) => Err(locked(l)),
        None => Err(AppError::new(ErrorCode::WrongCredentials, "unknown clerk or wrong PIN")),
    }
}

pub async fn sign_in(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(req): JsonBody<wire::SessionRequest>,
) -> Result<(StatusCode, Json<wire::SessionResponse>), AppError> {
    let counter = counter_ix(&s, &req.counter)?;
    let clerk = s.cfg.clerk(&req.clerk).cloned();
    check_secret(&s, &format!("clerk:{}", req.clerk), &req.pin, clerk.as_ref().map(|c| c.pin_hash.as_str()), addr).await?;
    let clerk = clerk.ok_or_else(|| AppError::internal("checked clerk vanished"))?;
    let def = &s.cfg.topology.counters[counter];
    if !clerk.may_sit_at(counter) {
        let halls: std::collections::BTreeSet<&str> =
            clerk.counters.iter().map(|&c| s.cfg.topology.halls[s.cfg.topology.counters[c].hall].id.as_str()).collect();
        let hall = &s.cfg.topology.halls[def.hall].id;
        let mut err = AppError::new(
            ErrorCode::CounterNotAllowed,
            format!("{} may not sign in at {} (allowed: counters of {})", clerk.id, def.id, halls.iter().copied().collect::<Vec<_>>().join(", ")),
        );
        // Not of that hall at all (not only not of that counter): the console says so.
        if !halls.contains(hall.as_str()) {
            err.hall = Some(hall.clone());
        }
        return Err(err);
    }
    let token = new_token();
    let req_in = Request::SignIn {
        counter,
        clerk: clerk.id.clone(),
        token_hash: hash_token(&token),
        take_over: req.take_over,
        pin_fp: clerk.pin_fp.clone(),
    };
    match s.engine.submit(req_in).await {
        Err(crate::engine::EngineError::Domain(crate::domain::DomainError::CounterTaken { clerk: other })) => {
            let name = s.cfg.clerk(&other).map(|c| c.name.clone()).unwrap_or_default();
            let mut e = AppError::new(
                ErrorCode::CounterTaken,
                format!("{name} ({other}) is signed in at {}; sign in with take_over to replace them", def.id),
            );
            e.clerk = Some((other, name));
            return Err(e);
        }
        r => r?,
    };
    tracing::info!(clerk = %clerk.id, counter = %def.id, take_over = req.take_over, client = ?addr, "signed in");
    Ok((
        StatusCode::CREATED,
        Json(wire::SessionResponse {
            token,
            clerk: clerk.id,
            clerk_name: clerk.name,
            counter: def.id.clone(),
            counter_number: def.number,
            hall: s.cfg.topology.halls[def.hall].id.clone(),
        }),
    ))
}

pub async fn sign_out(State(s): State<AppState>, Caller(who): Caller, headers: axum::http::HeaderMap) -> Result<StatusCode, AppError> {
    let Principal::Clerk { counter, .. } = who else {
        return Err(AppError::forbidden("only clerk sessions sign out"));
    };
    let token = super::bearer(&headers).ok_or_else(AppError::unauthorized)?;
    s.engine.submit(Request::SignOut { counter, token_hash: hash_token(token) }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn device_status(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(device): Path<String>,
    JsonBody(req): JsonBody<wire::DeviceStatusReport>,
) -> Result<StatusCode, AppError> {
    // `self`: the calling device (a web page that knows its token, not its id: the pad).
    let device = match (&who, device.as_str()) {
        (Principal::Kiosk { device, .. } | Principal::Display { device, .. } | Principal::Pad { device, .. }, "self") => device.clone(),
        _ => device,
    };
    let dev = s
        .cfg
        .devices
        .iter()
        .find(|d| d.id == device)
        .ok_or_else(|| AppError::new(ErrorCode::UnknownDevice, format!("no device `{}`", clip(&device))))?;
    match &who {
        Principal::Supervisor { .. } => {}
        Principal::Kiosk { device, .. } | Principal::Display { device, .. } | Principal::Pad { device, .. } if *device == dev.id => {}
        _ => return Err(AppError::forbidden("a device reports only its own status")),
    }
    let Some(hall) = dev.hall else {
        return Err(AppError::forbidden("only the devices in a hall report their status"));
    };
    if req.code.len() > 64 || req.message.chars().count() > 200 {
        return Err(AppError::new(ErrorCode::TooLong, "code is at most 64 bytes, message at most 200 characters"));
    }
    let status = wire::DeviceStatus {
        device: dev.id.clone(),
        kind: dev.kind.name().into(),
        ok: req.ok,
        code: req.code,
        message: req.message,
        at: view::time(s.clock.now()),
    };
    s.engine.submit(Request::DeviceStatus { device: dev.id.clone(), hall, status }).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn set_publicity(
    State(s): State<AppState>,
    SupervisorCaller(who): SupervisorCaller,
    HallAt { h }: HallAt,
    JsonBody(req): JsonBody<wire::PublicityRequest>,
) -> Result<Json<wire::HallInfo>, AppError> {
    if req.messages.len() > 50 || req.messages.iter().any(|m| m.chars().count() > 500) {
        return Err(AppError::new(ErrorCode::TooLong, "at most 50 messages of at most 500 characters"));
    }
    let detail = req.messages.join(" | ");
    let row = super::audit_row(&s, &super::actor(&who), "publicity_changed", &s.cfg.topology.halls[h].id, &detail, None);
    s.engine.submit_audited(Request::Domain(Command::SetPublicity { hall: h, messages: req.messages }), row).await?;
    let core = s.engine.shared.core.read().await;
    Ok(Json(core.hall_info(&s.cfg.public_base_url, h, s.clock.now())))
}

/// `GET /metrics`: the server's figures in Prometheus text format (supervisor token; a scrape
/// config gives it as `authorization: { credentials: … }`). The names are in the README.
pub async fn prometheus(State(s): State<AppState>, _: SupervisorCaller) -> Result<axum::response::Response, AppError> {
    use crate::domain::TicketState;
    use std::sync::atomic::Ordering::Relaxed;
    let shared = &s.engine.shared;
    let topo = &s.cfg.topology;
    let mut e = crate::metrics::Exposition::default();
    {
        let core = shared.core.read().await;
        let st = &core.state;
        let (halls, services) = (topo.halls.len(), topo.services.len());
        let mut issued = vec![vec![0u64; services]; halls];
        let mut served = vec![vec![0u64; services]; halls];
        let mut no_shows = vec![vec![0u64; services]; halls];
        for t in st.tickets().filter(|t| t.day == st.day()) {
            issued[t.issued_hall][t.issued_service] += 1;
            match t.state {
                TicketState::Finished => served[t.hall][t.service] += 1,
                TicketState::NoShow => no_shows[t.hall][t.service] += 1,
                _ => {}
            }
        }
        let per_service = |e: &mut crate::metrics::Exposition, name: &str, help: &str, v: &dyn Fn(usize, usize) -> f64| {
            e.family(name, "gauge", help);
            for h in 0..halls {
                for sv in 0..services {
                    e.sample(name, &[("hall", &topo.halls[h].id), ("service", &topo.services[sv].id)], v(h, sv));
                }
            }
        };
        per_service(&mut e, "qcall_tickets_issued_today", "Tickets issued today, by the hall and service they were taken for.", &|h, sv| issued[h][sv] as f64);
        per_service(&mut e, "qcall_tickets_served_today", "Tickets finished (办结) today.", &|h, sv| served[h][sv] as f64);
        per_service(&mut e, "qcall_tickets_no_show_today", "Tickets marked no-show today.", &|h, sv| no_shows[h][sv] as f64);
        per_service(&mut e, "qcall_waiting", "Tickets waiting now.", &|h, sv| f64::from(st.waiting(h, sv)));
        e.family("qcall_counters", "gauge", "Counters by state now.");
        for h in 0..halls {
            for (state, name) in [(crate::domain::CounterState::Open, "open"), (crate::domain::CounterState::Paused, "paused"), (crate::domain::CounterState::Closed, "closed")] {
                let n = (0..topo.counters.len()).filter(|&c| topo.counters[c].hall == h && st.counter(c).state == state).count();
                e.sample("qcall_counters", &[("hall", &topo.halls[h].id), ("state", name)], n as f64);
            }
        }
        e.family("qcall_device_up", "gauge", "1 when the device's last report was healthy, 0 when it reported a fault.");
        for (device, (hall, status)) in &core.devices {
            e.sample("qcall_device_up", &[("hall", &topo.halls[*hall].id), ("device", device), ("kind", &status.kind)], if status.ok { 1.0 } else { 0.0 });
        }
        e.family("qcall_events_total", "counter", "Events committed (the last event's sequence number).");
        e.sample("qcall_events_total", &[], core.seq as f64);
    }
    e.family("qcall_commits_total", "counter", "SQLite transactions since start.");
    e.sample("qcall_commits_total", &[], shared.commits.load(Relaxed) as f64);
    e.family("qcall_batches_total", "counter", "Batches committed since start.");
    e.sample("qcall_batches_total", &[], shared.batches_applied.load(Relaxed) as f64);
    e.family("qcall_writer_busy_seconds_total", "counter", "Seconds the writer spent applying and committing.");
    e.sample("qcall_writer_busy_seconds_total", &[], shared.writer_busy_us.load(Relaxed) as f64 / 1e6);
    e.histogram("qcall_commit_seconds", "Seconds per commit, fsync included.", &shared.commit_seconds);
    e.histogram("qcall_batch_commands", "Commands per batch (one transaction).", &shared.batch_commands);
    e.family("qcall_stream_subscribers", "gauge", "Event-stream subscribers connected now.");
    e.sample("qcall_stream_subscribers", &[], shared.stream_subscribers() as f64);
    e.family("qcall_stream_subscribers_dropped_total", "counter", "Subscribers dropped for being too slow or too far behind.");
    e.sample("qcall_stream_subscribers_dropped_total", &[], shared.dropped_subscribers.load(Relaxed) as f64);
    e.family("qcall_store_up", "gauge", "1 while the database takes commits, 0 after a failed one.");
    e.sample("qcall_store_up", &[], if shared.health.lock().last_error.is_none() { 1.0 } else { 0.0 });
    Ok(([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], e.finish()).into_response())
}
