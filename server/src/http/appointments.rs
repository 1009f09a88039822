//! Appointments (提前预约发号): free slots (anyone), booking (the public page, with a one-time
//! code sent to the booker's phone, or a `booking` client that vouches for its users), viewing
//! and cancelling with the booker's phone, check-in at the hall's kiosk, and the supervisors'
//! lists and counts. Personal data leaves the server masked, except to supervisors.
//!
//! Limits that hold against a stranger with a script: per client address (an IPv6 /64 is
//! one), per proven phone, per slot and address, per booking code for lookups, and per booking
//! client. Booking codes never reach the log; phones travel in POST bodies, not URLs.

use std::net::IpAddr;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use qcall_wire::{self as wire, ErrorCode};

use super::extract::{hall_ix, service_ix};
use super::extract::{HallAt, Period};
use super::{AppError, AppState, ClientAddr, JsonBody, StrictQuery, SupervisorCaller};
use crate::auth::Principal;
use crate::domain::appointments::{mask_id, mask_name, mask_phone, valid_credit_code, valid_name, valid_phone, valid_resident_id};
use crate::domain::{Booking, BookingState, CheckInBy, Command, DomainError, Person};
use crate::engine::{EngineError, Outcome, Request};
use crate::signin::Throttle;
use crate::view;

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// Lookups ("my bookings", a booking's page, cancels) one client address may make per hour.
pub const LOOKUPS_PER_HOUR: u32 = 30;
/// Code requests one client address may make per hour.
pub const CODES_PER_HOUR: u32 = 10;
/// Tries at one booking code (view or cancel) per hour, from anywhere.
pub const TRIES_PER_CODE: u32 = 10;
/// Public bookings one proven phone may make per day.
pub const BOOKINGS_PER_PHONE: u32 = 5;
/// Public bookings of one slot one client address may make (a family: two).
pub const PER_SLOT_PER_ADDRESS: u32 = 2;

/// How often the public may do what.
pub struct Limits {
    pub bookings: Throttle,
    pub lookups: Throttle,
    pub codes: Throttle,
    pub tries_per_code: Throttle<String>,
    pub per_phone: Throttle<String>,
    pub per_slot: Throttle<(IpAddr, usize, usize, chrono::NaiveDate, u32)>,
    /// Each booking client's own quota, by device id.
    pub clients: std::collections::HashMap<String, Throttle<()>>,
}

impl Limits {
    pub fn new(cfg: &crate::config::Config) -> Limits {
        Limits {
            bookings: Throttle::new(cfg.bookings_per_hour, HOUR),
            lookups: Throttle::new(LOOKUPS_PER_HOUR, HOUR),
            codes: Throttle::new(CODES_PER_HOUR, HOUR),
            tries_per_code: Throttle::new(TRIES_PER_CODE, HOUR),
            per_phone: Throttle::new(BOOKINGS_PER_PHONE, DAY),
            per_slot: Throttle::new(PER_SLOT_PER_ADDRESS, DAY),
            clients: cfg
                .devices
                .iter()
                .filter(|d| d.kind == crate::config::DeviceKind::Booking)
                .map(|d| (d.id.clone(), Throttle::new(d.bookings_per_hour, HOUR)))
                .collect(),
        }
    }
}

/// `Err(ms)` from a throttle as a 429 of this code.
pub(super) fn limited(code: ErrorCode, what: &str) -> impl Fn(i64) -> AppError + '_ {
    move |wait| {
        let secs = (wait.max(0) as u64).div_ceil(1000);
        AppError::new(code, format!("too many {what}; try again later")).retry_after(secs)
    }
}

/// Counts a lookup of this client address.
fn lookup_allowed(s: &AppState, addr: Option<IpAddr>) -> Result<(), AppError> {
    match addr {
        Some(a) => s.limits.lookups.take_addr(a, s.clock.now()).map_err(limited(ErrorCode::TooManyBookings, "lookups from this address")),
        None => Ok(()),
    }
}

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

/// `POST /api/v1/appointments/phone-code`: a one-time code to the phone, for booking (a
/// minute apart and five an hour per phone, ten an hour per client address).
pub async fn phone_code(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(req): JsonBody<wire::PhoneCodeRequest>,
) -> Result<Json<wire::PhoneCodeSent>, AppError> {
    let phone = req.phone.trim().to_string();
    if !valid_phone(&phone) {
        return Err(invalid(ErrorCode::InvalidPhone, "phone", "an 11-digit mobile number such as 13812341234"));
    }
    if !s.sms.configured() {
        return Err(AppError::new(ErrorCode::SmsUnavailable, "this server sends no text messages: book through a booking client or at the hall"));
    }
    let now = s.clock.now();
    if let Some(a) = addr {
        s.limits.codes.take_addr(a, now).map_err(limited(ErrorCode::TooManyCodes, "codes asked for from this address"))?;
    }
    let code = crate::phone_codes::new_code();
    let expires = {
        let mut codes = s.phone_codes.lock();
        codes.may_send(&phone, now).map_err(limited(ErrorCode::TooManyCodes, "codes sent to this phone"))?;
        codes.sent(&phone, &code, now)
    };
    let msg = crate::sms::Message {
        phone: phone.clone(),
        purpose: crate::sms::Purpose::Code,
        params: [("code".to_string(), code)].into_iter().collect(),
    };
    if let Err(e) = s.sms.send(&s, &msg, now).await {
        s.phone_codes.lock().unsend(&phone);
        return Err(AppError::new(ErrorCode::SmsUnavailable, format!("the code could not be sent: {e}")));
    }
    Ok(Json(wire::PhoneCodeSent {
        phone: mask_phone(&phone),
        expires_at: view::time(expires),
        resend_after_s: (crate::phone_codes::RESEND_MS / 1000) as u32,
    }))
}

/// `POST /api/v1/appointments`: the public (with the code sent to the phone, within the
/// limits) or a `booking` client (within its quota).
pub async fn book(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    super::MaybeCaller(caller): super::MaybeCaller,
    JsonBody(req): JsonBody<wire::BookingRequest>,
) -> Result<Response, AppError> {
    let client = match &caller {
        None => None,
        Some(Principal::Booking { device }) => Some(device.clone()),
        Some(Principal::Supervisor { .. }) => Some(String::new()),
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
    let now = s.clock.now();
    // A stranger proves the phone with its code; a booking client vouches for its user.
    let taken = match client {
        Some(device) => {
            if let Some(t) = s.limits.clients.get(&device) {
                t.take((), now).map_err(limited(ErrorCode::TooManyBookings, "bookings from this client"))?;
            }
            None
        }
        None => {
            let code = req.phone_code.as_deref().map(str::trim).filter(|c| !c.is_empty());
            let code = code.ok_or_else(|| AppError::new(ErrorCode::PhoneCodeRequired, "phone_code: send one with POST /api/v1/appointments/phone-code"))?;
            if let Some(a) = addr {
                s.limits.bookings.take_addr(a, now).map_err(limited(ErrorCode::TooManyBookings, "bookings from this address"))?;
            }
            let taken = s.phone_codes.lock().take(&who.phone, code, now).map_err(|e| AppError::new(ErrorCode::WrongPhoneCode, e.to_string()))?;
            // Counted once the phone is proven: per phone, and per slot from one address.
            let proven = s.limits.per_phone.take(who.phone.clone(), now).map_err(limited(ErrorCode::TooManyBookings, "bookings with this phone today"));
            let proven = proven.and_then(|()| match addr {
                Some(a) => s
                    .limits
                    .per_slot
                    .take((crate::net::limit_key(a), hall, service, date, slot), now)
                    .map_err(limited(ErrorCode::TooManyBookings, "bookings of this slot from this address")),
                None => Ok(()),
            });
            if let Err(e) = proven {
                s.phone_codes.lock().restore(taken);
                return Err(e);
            }
            Some(taken)
        }
    };
    let refused = |e: AppError| {
        if let Some(t) = taken.clone() {
            s.phone_codes.lock().restore(t);
        }
        e
    };
    for _ in 0..8 {
        let code = format!("{:08}", rand::random::<u32>() % 100_000_000);
        let cmd = Command::Book { hall, service, date, slot, who: who.clone(), code, request_id: req.request_id.clone() };
        match s.engine.submit(Request::Domain(cmd)).await {
            Err(EngineError::Domain(DomainError::CodeTaken)) => continue,
            Err(e) => return Err(refused(refusal(&s, e))),
            Ok(Outcome::Booking { booking: b, again }) => {
                tracing::info!(booking = b.id, hall = %req.hall, service = %req.service, date = %b.date, again, "booked");
                let status = if again { StatusCode::OK } else { StatusCode::CREATED };
                return Ok((status, Json(booking_view(&s, &b, true))).into_response());
            }
            Ok(other) => return Err(AppError::internal(format!("booking answered {other:?}"))),
        }
    }
    Err(AppError::internal("no free booking code"))
}

/// The booking with this code whose booker has this phone. Counted per client address and
/// per code; always read from the database (where every answered change already is), so a live
/// code and an unknown one take the same path, and the phone is compared in constant time.
async fn find(s: &AppState, addr: Option<IpAddr>, code: &str, phone: &str) -> Result<Booking, AppError> {
    let unknown = || AppError::new(ErrorCode::UnknownBooking, "no booking with that code and phone number");
    lookup_allowed(s, addr)?;
    if code.len() != 8 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(unknown());
    }
    s.limits.tries_per_code.take(code.to_string(), s.clock.now()).map_err(limited(ErrorCode::TooManyBookings, "tries at this booking code"))?;
    let topo = s.cfg.topology.clone();
    let code = code.to_string();
    let found = super::read(s, move |conn| crate::queries::booking_by_code(conn, &topo, &code)).await?;
    let phone_matches = |b: &Booking| bool::from(subtle::ConstantTimeEq::ct_eq(b.who.phone.as_bytes(), phone.as_bytes()));
    found.filter(phone_matches).ok_or_else(unknown)
}

/// `POST /api/v1/appointments/lookup`: the bookings of today and later made with this phone and
/// ID number, masked (查询/取消我的预约). Limited per client address; nothing says whether
/// the ID number alone has bookings.
pub async fn my_bookings(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    JsonBody(req): JsonBody<wire::MyBookingsRequest>,
) -> Result<Json<wire::MyBookings>, AppError> {
    lookup_allowed(&s, addr)?;
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

/// `POST /api/v1/appointments/{code}/view` `{phone}`: the booking, masked.
pub async fn view_booking(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Path(code): Path<String>,
    JsonBody(q): JsonBody<wire::BookingLookup>,
) -> Result<Json<wire::Booking>, AppError> {
    let b = find(&s, addr, &code, q.phone.trim()).await?;
    Ok(Json(booking_view(&s, &b, true)))
}

/// `POST /api/v1/appointments/{code}/cancel` `{phone}`: cancel (until `cancel_before_minutes`
/// before).
pub async fn cancel(
    State(s): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Path(code): Path<String>,
    JsonBody(q): JsonBody<wire::BookingLookup>,
) -> Result<Json<wire::Booking>, AppError> {
    let phone = q.phone.trim().to_string();
    let b = find(&s, addr, &code, &phone).await?;
    s.engine.submit(Request::Domain(Command::CancelBooking { code: code.clone(), phone: phone.clone() })).await.map_err(|e| refusal(&s, e))?;
    tracing::info!(booking = b.id, "booking cancelled");
    let core = s.engine.shared.core.read().await;
    let b = core.state.bookings().by_id.get(&b.id).cloned().unwrap_or(b);
    Ok(Json(booking_view(&s, &b, true)))
}

/// `POST /api/v1/halls/{hall}/check-in` by that hall's kiosk: a ticket marked with the slot.
pub async fn check_in(
    State(s): State<AppState>,
    HallAt { h }: HallAt,
    JsonBody(req): JsonBody<wire::CheckInRequest>,
) -> Result<Response, AppError> {
    let by = match (req.code, req.id_number) {
        (Some(c), None) => CheckInBy::Code(c.trim().to_string()),
        (None, Some(i)) => CheckInBy::IdNumber(i.trim().to_ascii_uppercase()),
        _ => return Err(AppError::new(ErrorCode::BadJson, "give either code or id_number")),
    };
    // Anyone can type an ID number: it gets a ticket or "no booking", nothing about where or
    // when (the booking code, which only the booker has, gets the reasons).
    let by_id = matches!(by, CheckInBy::IdNumber(_));
    let refusal = |s: &AppState, e: EngineError| match e {
        EngineError::Domain(_) if by_id => AppError::new(ErrorCode::UnknownBooking, "未找到可签到的预约 · no booking to check in here now"),
        e => refusal(s, e),
    };
    if let Some(r) = &req.request_id {
        if r.is_empty() || r.len() > 64 || !r.chars().all(|c| c.is_ascii_graphic()) {
            return Err(AppError::new(ErrorCode::BadRequestId, "request_id must be 1-64 printable ASCII characters"));
        }
    }
    let outcome =
        s.engine.submit(Request::Domain(Command::CheckIn { hall: h, by, request_id: req.request_id })).await.map_err(|e| refusal(&s, e))?;
    match outcome {
        Outcome::Ticket { mut ticket, again } => {
            tracing::info!(number = %ticket.number, hall = %s.cfg.topology.halls[h].id, again, "checked in");
            ticket.page = Some(s.ticket_link(ticket.id));
            Ok((if again { StatusCode::OK } else { StatusCode::CREATED }, Json(ticket)).into_response())
        }
        other => Err(AppError::internal(format!("check-in answered {other:?}"))),
    }
}

/// `GET /api/v1/appointments?date=[&hall=]` (supervisors): every booking of the day, whole.
pub async fn list(State(s): State<AppState>, SupervisorCaller(who): SupervisorCaller, StrictQuery(q): StrictQuery<wire::AppointmentsQuery>) -> Result<Json<Vec<wire::Booking>>, AppError> {
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
pub async fn stats(State(s): State<AppState>, _: SupervisorCaller, p: Period) -> Result<Response, AppError> {
    let format = p.format;
    let rows = super::read(&s, move |conn| crate::queries::booking_stats(conn, &p.from, &p.to, p.hall.as_deref())).await?;
    match format {
        wire::ReportFormat::Json => Ok(Json(rows).into_response()),
        wire::ReportFormat::Csv => {
            let header = ["day", "hall", "booked", "cancelled", "checked_in", "no_show"];
            let rows = rows.iter().map(|r| {
                vec![r.day.clone(), r.hall.clone(), r.booked.to_string(), r.cancelled.to_string(), r.checked_in.to_string(), r.no_show.to_string()]
            });
            super::csv::csv_response(super::csv::csv_table(&header, rows))
        }
    }
}
