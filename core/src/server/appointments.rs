//! Appointments (提前预约发号): free slots (anyone), booking (the public page, rate-limited per
//! client address, or a `booking` device), viewing and cancelling with the booker's phone,
//! check-in at the hall's kiosk, and the supervisors' lists and counts. Personal data leaves
//! the server masked, except to supervisors.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::api::{clip, hall_ix, service_ix};
use super::{AppError, AppState, Caller, ClientAddr, JsonBody, StrictQuery};
use crate::auth::Principal;
use crate::domain::appointments::{mask_id, mask_name, mask_phone, valid_credit_code, valid_name, valid_phone, valid_resident_id};
use crate::domain::{Booking, BookingState, CheckInBy, Command, DomainError, Person};
use crate::engine::{EngineError, Outcome, Request};
use crate::view;

fn parse_date(v: &str, field: &str) -> Result<chrono::NaiveDate, AppError> {
    v.parse().map_err(|_| AppError::new(ErrorCode::BadQuery, format!("{field} must be a date like 2026-12-01")))
}

/// The booking as the wire shows it; `masked` for everyone but supervisors.
pub fn booking_view(s: &AppState, b: &Booking, masked: bool) -> wire::Booking {
    let topo = &s.cfg.topology;
    let rules = &topo.appointments;
    let start = topo.at(b.date, b.slot);
    let min = |m: u32| i64::from(m) * 60_000;
    let (name, phone, id) = if masked {
        (mask_name(&b.who.name), mask_phone(&b.who.phone), mask_id(&b.who.person))
    } else {
        (b.who.name.clone(), b.who.phone.clone(), b.who.person.clone())
    };
    wire::Booking {
        code: b.code.clone(),
        hall: topo.halls[b.hall].id.clone(),
        service: topo.services[b.service].id.clone(),
        date: b.date.to_string(),
        slot: wire::AppointmentSlot { start: view::time(start), end: view::time(start + min(rules.slot_minutes)) },
        state: match b.state {
            BookingState::Booked => wire::BookingState::Booked,
            BookingState::Cancelled => wire::BookingState::Cancelled,
            BookingState::CheckedIn => wire::BookingState::CheckedIn,
            BookingState::NoShow => wire::BookingState::NoShow,
        },
        name,
        phone,
        id_number: id,
        check_in_from: view::time(start - min(rules.early_minutes)),
        check_in_until: view::time(start + min(rules.late_minutes)),
        cancel_until: view::time(start - min(rules.cancel_before_minutes)),
        ticket: b.ticket,
        created_at: view::time(b.created_at),
    }
}

/// Domain refusals of bookings and check-ins, with the hall or date they name.
fn refusal(s: &AppState, e: EngineError) -> AppError {
    match e {
        EngineError::Domain(DomainError::WrongHall(h)) => {
            let hall = &s.cfg.topology.halls[h];
            let mut err = AppError::new(ErrorCode::WrongHall, format!("the booking is for {} ({})", hall.name_zh, hall.name_en));
            err.hall = Some(hall.id.clone());
            err
        }
        EngineError::Domain(DomainError::BookingBanned(until)) => {
            let mut err = AppError::from(DomainError::BookingBanned(until));
            err.at = Some(view::time(s.cfg.topology.at(until, 0)));
            err
        }
        other => other.into(),
    }
}

/// `GET /api/v1/appointments/slots?hall=&service=[&date=]` (anyone).
pub async fn slots(State(s): State<AppState>, StrictQuery(q): StrictQuery<wire::SlotsQuery>) -> Result<Json<wire::SlotsResponse>, AppError> {
    let hall = hall_ix(&s, &q.hall)?;
    let service = service_ix(&s, &q.service)?;
    let topo = &s.cfg.topology;
    let now = s.clock.now();
    let core = s.engine.shared.core.read().await;
    let st = &core.state;
    let days = st.bookable_days(hall, now);
    let date = match &q.date {
        Some(d) => parse_date(d, "date")?,
        None => days.first().copied().unwrap_or_else(|| topo.local(now).0),
    };
    let capacity = st.slot_capacity(hall, service);
    let slots = st
        .slots(hall, date)
        .into_iter()
        .map(|slot| {
            let start = topo.at(date, slot);
            let free = capacity.saturating_sub(st.bookings().taken(hall, service, date, slot));
            let end = slot + topo.appointments.slot_minutes;
            wire::SlotInfo {
                start: view::time(start),
                end: view::time(start + i64::from(topo.appointments.slot_minutes) * 60_000),
                start_local: crate::domain::calendar::format_minute(slot),
                end_local: crate::domain::calendar::format_minute(end),
                capacity,
                free,
                bookable: free > 0 && st.slot_bookable(hall, date, slot, now).is_ok(),
            }
        })
        .collect();
    Ok(Json(wire::SlotsResponse {
        hall: topo.halls[hall].id.clone(),
        service: topo.services[service].id.clone(),
        date: date.to_string(),
        open_day: topo.hall_open_day(hall, date),
        bookable_days: days.iter().map(ToString::to_string).collect(),
        slots,
    }))
}

fn invalid(code: ErrorCode, field: &str, why: &str) -> AppError {
    AppError::new(code, format!("{field}: {why}"))
}

/// The slot's start as minutes after local midnight, from `HH:MM` in the hall's time or the
/// slot's `start` exactly as the slot list gives it (RFC 3339), which must fall on `date`.
fn slot_start(topo: &crate::domain::Topology, date: chrono::NaiveDate, start: &str) -> Result<u32, AppError> {
    let bad = || AppError::new(ErrorCode::OutsideBookingWindow, "start must be a slot's start like 09:30 or 2026-12-02T01:30:00Z");
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(start.trim()) {
        let (day, minute) = topo.local(t.timestamp_millis());
        if day != date || t.timestamp_subsec_millis() != 0 || t.timestamp() % 60 != 0 {
            return Err(AppError::new(ErrorCode::OutsideBookingWindow, format!("start {start} is not a slot start on {date}")));
        }
        return Ok(minute);
    }
    crate::domain::calendar::parse_period(&format!("{start}-23:59")).map(|(a, _)| a).ok_or_else(bad)
}

/// `POST /api/v1/appointments`: the public (rate-limited per address) or a `booking` device.
pub async fn book(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    super::MaybeCaller(caller): super::MaybeCaller,
    JsonBody(req): JsonBody<wire::BookingRequest>,
) -> Result<Response, AppError> {
    let public = match caller {
        None => true,
        Some(Principal::Booking { .. } | Principal::Supervisor { .. }) => false,
        Some(_) => return Err(AppError::forbidden("only the public booking page and booking clients book")),
    };
    let hall = hall_ix(&s, &req.hall)?;
    let service = service_ix(&s, &req.service)?;
    let name = req.name.trim().to_string();
    if !valid_name(&name) {
        return Err(invalid(ErrorCode::InvalidName, "name", "1-30 letters (spaces, · . - allowed)"));
    }
    if !valid_phone(req.phone.trim()) {
        return Err(invalid(ErrorCode::InvalidPhone, "phone", "an 11-digit mobile number such as 13812341234"));
    }
    let id = req.id_number.trim().to_ascii_uppercase();
    if !(valid_resident_id(&id) || valid_credit_code(&id)) {
        return Err(invalid(
            ErrorCode::InvalidIdNumber,
            "id_number",
            "not a valid 纳税人识别号 / 统一社会信用代码 or resident ID number (its check character is wrong)",
        ));
    }
    let date = req.date.parse().map_err(|_| AppError::new(ErrorCode::OutsideBookingWindow, "date must be like 2026-12-01"))?;
    let slot = slot_start(&s.cfg.topology, date, &req.start)?;
    if req.request_id.is_empty() || req.request_id.len() > 64 || !req.request_id.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AppError::new(ErrorCode::BadRequestId, "request_id must be 1-64 printable ASCII characters"));
    }
    let who = Person { person: id, name, phone: req.phone.trim().to_string() };
    if let (true, Some(a)) = (public, addr) {
        if let Err(wait) = s.bookings_throttle.take(a, s.clock.now()) {
            let secs = (wait.max(0) as u64).div_ceil(1000);
            return Err(AppError::new(ErrorCode::TooManyBookings, "too many bookings from this address; try again later").retry_after(secs));
        }
    }
    for _ in 0..8 {
        let code = format!("{:08}", rand::random::<u32>() % 100_000_000);
        let cmd = Command::Book { hall, service, date, slot, who: who.clone(), code, request_id: req.request_id.clone() };
        match s.engine.submit(Request::Domain(cmd)).await {
            Err(EngineError::Domain(DomainError::CodeTaken)) => continue,
            Err(e) => return Err(refusal(&s, e)),
            Ok(outcome) => {
                let (status, id) = match outcome {
                    Outcome::ExistingBooking(id) => (StatusCode::OK, id),
                    Outcome::Applied(_) => {
                        let core = s.engine.shared.core.read().await;
                        let id = core.state.bookings().by_request(&req.request_id).map(|b| b.id);
                        (StatusCode::CREATED, id.ok_or_else(|| AppError::internal("booking vanished"))?)
                    }
                    Outcome::Existing(_) => return Err(AppError::internal("a booking answered with a ticket")),
                };
                let core = s.engine.shared.core.read().await;
                let b = core.state.bookings().by_id.get(&id).ok_or_else(|| AppError::internal("booking vanished"))?;
                tracing::info!(code = %b.code, hall = %req.hall, service = %req.service, date = %b.date, "booked");
                return Ok((status, Json(booking_view(&s, b, true))).into_response());
            }
        }
    }
    Err(AppError::internal("no free booking code"))
}

/// The booking with this code whose booker has this phone: memory (today and later), else the
/// database (earlier days, until their personal data is purged).
async fn find(s: &AppState, code: &str, phone: &str) -> Result<Booking, AppError> {
    let unknown = || AppError::new(ErrorCode::UnknownBooking, "no booking with that code and phone number");
    if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unknown());
    }
    {
        let core = s.engine.shared.core.read().await;
        if let Some(b) = core.state.bookings().by_code(code) {
            return if b.who.phone == phone { Ok(b.clone()) } else { Err(unknown()) };
        }
    }
    let topo = s.cfg.topology.clone();
    let code = code.to_string();
    let found = super::read(s, move |conn| crate::queries::booking_by_code(conn, &topo, &code)).await?;
    found.filter(|b| b.who.phone == phone).ok_or_else(unknown)
}

/// `POST /api/v1/appointments/lookup`: the bookings of today and later made with this phone and
/// ID number, masked (查询/取消我的预约). Limited per client address; nothing says whether
/// the ID number alone has bookings.
pub async fn my_bookings(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(req): JsonBody<wire::MyBookingsRequest>,
) -> Result<Json<wire::MyBookings>, AppError> {
    if let Some(a) = addr {
        if let Err(wait) = s.lookups_throttle.take(a, s.clock.now()) {
            let secs = (wait.max(0) as u64).div_ceil(1000);
            return Err(AppError::new(ErrorCode::TooManyBookings, "too many lookups from this address; try again later").retry_after(secs));
        }
    }
    let phone = req.phone.trim();
    let id = req.id_number.trim().to_ascii_uppercase();
    if !valid_phone(phone) {
        return Err(invalid(ErrorCode::InvalidPhone, "phone", "an 11-digit mobile number such as 13812341234"));
    }
    if !(valid_resident_id(&id) || valid_credit_code(&id)) {
        return Err(invalid(ErrorCode::InvalidIdNumber, "id_number", "not a valid 纳税人识别号 / 统一社会信用代码 or resident ID number"));
    }
    let core = s.engine.shared.core.read().await;
    let mut found: Vec<&Booking> = core.state.bookings().by_id.values().filter(|b| b.who.person == id && b.who.phone == phone).collect();
    found.sort_by_key(|b| (b.date, b.slot, b.id));
    Ok(Json(wire::MyBookings { bookings: found.into_iter().map(|b| booking_view(&s, b, true)).collect() }))
}

/// `GET /api/v1/appointments/{code}?phone=`: the booking, masked.
pub async fn view_booking(
    State(s): State<AppState>,
    Path(code): Path<String>,
    StrictQuery(q): StrictQuery<wire::BookingLookup>,
) -> Result<Json<wire::Booking>, AppError> {
    let b = find(&s, &code, q.phone.trim()).await?;
    Ok(Json(booking_view(&s, &b, true)))
}

/// `DELETE /api/v1/appointments/{code}?phone=`: cancel (until `cancel_before_minutes` before).
pub async fn cancel(
    State(s): State<AppState>,
    Path(code): Path<String>,
    StrictQuery(q): StrictQuery<wire::BookingLookup>,
) -> Result<Json<wire::Booking>, AppError> {
    let phone = q.phone.trim().to_string();
    find(&s, &code, &phone).await?;
    s.engine.submit(Request::Domain(Command::CancelBooking { code: code.clone(), phone: phone.clone() })).await.map_err(|e| refusal(&s, e))?;
    tracing::info!(code = %clip(&code), "booking cancelled");
    let b = find(&s, &code, &phone).await?;
    Ok(Json(booking_view(&s, &b, true)))
}

/// `POST /api/v1/halls/{hall}/check-in` by that hall's kiosk: a ticket marked with the slot.
pub async fn check_in(
    State(s): State<AppState>,
    Caller(who): Caller,
    Path(hall): Path<String>,
    JsonBody(req): JsonBody<wire::CheckInRequest>,
) -> Result<Response, AppError> {
    let h = hall_ix(&s, &hall)?;
    match &who {
        Principal::Kiosk { hall, .. } if *hall == h => {}
        Principal::Supervisor { .. } => {}
        _ => return Err(AppError::forbidden("only the hall's kiosks check appointments in")),
    }
    let by = match (req.code, req.id_number) {
        (Some(c), None) => CheckInBy::Code(c.trim().to_string()),
        (None, Some(i)) => CheckInBy::IdNumber(i.trim().to_ascii_uppercase()),
        _ => return Err(AppError::new(ErrorCode::BadJson, "give either code or id_number")),
    };
    if let Some(r) = &req.request_id {
        if r.is_empty() || r.len() > 64 || !r.chars().all(|c| c.is_ascii_graphic()) {
            return Err(AppError::new(ErrorCode::BadRequestId, "request_id must be 1-64 printable ASCII characters"));
        }
    }
    let outcome =
        s.engine.submit(Request::Domain(Command::CheckIn { hall: h, by, request_id: req.request_id })).await.map_err(|e| refusal(&s, e))?;
    let (status, id) = match outcome {
        Outcome::Existing(id) => (StatusCode::OK, id),
        Outcome::Applied(msgs) => {
            let t = msgs.iter().find_map(|b| match &b.msg.kind {
                wire::EventKind::TicketIssued { ticket } => Some(ticket.clone()),
                _ => None,
            });
            return match t {
                Some(t) => {
                    tracing::info!(number = %t.number, hall = %hall, "appointment checked in");
                    Ok((StatusCode::CREATED, Json(t)).into_response())
                }
                None => Err(AppError::internal("check-in produced no ticket")),
            };
        }
        Outcome::ExistingBooking(_) => return Err(AppError::internal("a check-in answered with a booking")),
    };
    let t = super::api::ticket_view(&s, id).await.ok_or_else(|| AppError::internal("checked-in ticket vanished"))?;
    Ok((status, Json(t)).into_response())
}

/// `GET /api/v1/appointments?date=[&hall=]` (supervisors): every booking of the day, whole.
pub async fn list(State(s): State<AppState>, Caller(who): Caller, StrictQuery(q): StrictQuery<wire::AppointmentsQuery>) -> Result<Json<Vec<wire::Booking>>, AppError> {
    if !who.is_supervisor() {
        return Err(AppError::forbidden("appointment lists are for supervisors"));
    }
    let date = parse_date(&q.date, "date")?;
    let hall = q.hall.as_deref().filter(|h| !h.is_empty()).map(|h| hall_ix(&s, h)).transpose()?;
    let detail = format!("{date} {}", hall.map_or("all halls", |h| s.cfg.topology.halls[h].id.as_str()));
    super::audit(&s, &super::actor(&who), "bookings_viewed", "appointments", &detail, None).await;
    let topo = s.cfg.topology.clone();
    let rows = super::read(&s, move |conn| crate::queries::bookings_of_day(conn, &topo, date, hall)).await?;
    Ok(Json(rows.iter().map(|b| booking_view(&s, b, false)).collect()))
}

/// `GET /api/v1/appointments/stats?from=&to=[&hall=][&format=csv]` (supervisors): per day and
/// hall, booked, cancelled, checked in, no-show (purged days included).
pub async fn stats(State(s): State<AppState>, Caller(who): Caller, StrictQuery(q): StrictQuery<wire::PeriodQuery>) -> Result<Response, AppError> {
    if !who.is_supervisor() {
        return Err(AppError::forbidden("appointment statistics are for supervisors"));
    }
    let (from, to) = super::stats::period(&q)?;
    let hall = q.hall.as_deref().filter(|h| !h.is_empty()).map(|h| hall_ix(&s, h)).transpose()?;
    let hall_id = hall.map(|h| s.cfg.topology.halls[h].id.clone());
    let rows = super::read(&s, move |conn| crate::queries::booking_stats(conn, &from, &to, hall_id.as_deref())).await?;
    match q.format.unwrap_or_default() {
        wire::ReportFormat::Json => Ok(Json(rows).into_response()),
        wire::ReportFormat::Csv => {
            let header = ["day", "hall", "booked", "cancelled", "checked_in", "no_show"];
            let rows = rows.iter().map(|r| {
                vec![r.day.clone(), r.hall.clone(), r.booked.to_string(), r.cancelled.to_string(), r.checked_in.to_string(), r.no_show.to_string()]
            });
            super::reports::csv_response(super::reports::csv_table(&header, rows))
        }
    }
}
