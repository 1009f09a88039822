//! Appointments (提前预约发号): slots, bookings, check-in. Personal data (name, phone, ID
//! number) appears only in [`Booking`], which the public sees masked.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The half-hour (`slot_minutes`) an appointment is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppointmentSlot {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// `GET /api/v1/appointments/slots?hall=&service=&date=`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlotsQuery {
    pub hall: String,
    pub service: String,
    /// `YYYY-MM-DD`; absent: the first bookable day.
    #[serde(default)]
    pub date: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotInfo {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Local start and end, `HH:MM` (a booking names the slot by `start` or by `start_local`).
    pub start_local: String,
    pub end_local: String,
    pub capacity: u32,
    pub free: u32,
    /// It can be booked now (free, and not too soon or past).
    pub bookable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotsResponse {
    pub hall: String,
    pub service: String,
    pub date: String,
    /// The hall is open that day (not a weekend or holiday, or a 调休 working Saturday).
    pub open_day: bool,
    /// Every day that can be booked now, `YYYY-MM-DD`, in order.
    pub bookable_days: Vec<String>,
    pub slots: Vec<SlotInfo>,
}

/// `POST /api/v1/appointments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingRequest {
    pub hall: String,
    pub service: String,
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The slot's start: its `start` as the slot list gives it (`2026-12-02T02:00:00Z`), or the
    /// local `HH:MM` in the hall's time zone.
    pub start: String,
    pub name: String,
    /// 11-digit mobile number.
    pub phone: String,
    /// 纳税人识别号 / 统一社会信用代码 or resident ID number (18 characters).
    pub id_number: String,
    /// Repeat it on retry and the same booking comes back.
    pub request_id: String,
    /// The one-time code sent to `phone` (`POST /api/v1/appointments/phone-code`): a public
    /// booking needs it; a booking client vouches for its user instead.
    #[serde(default)]
    pub phone_code: Option<String>,
}

/// What a check-in answered: the appointment's ticket, and whether it had been checked in
/// before (HTTP 200 rather than 201): the same ticket, not to be printed again.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedIn {
    pub ticket: crate::Ticket,
    pub again: bool,
}

/// `POST /api/v1/appointments/phone-code`: send a one-time code to this phone (public,
/// limited per phone and per address).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneCodeRequest {
    pub phone: String,
}

/// The code is on its way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneCodeSent {
    /// Masked, as it was sent to (138****1234).
    pub phone: String,
    /// The code is good until then.
    pub expires_at: DateTime<Utc>,
    /// A new code can be asked for after this many seconds.
    pub resend_after_s: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingState {
    Booked,
    Cancelled,
    CheckedIn,
    /// Not checked in by the end of the check-in window.
    NoShow,
}

/// A booking. On the public endpoints `name`, `phone` and `id_number` are masked (张*,
/// 138****1234, 1101**********123X); supervisors see them whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Booking {
    /// 8 digits: what the taxpayer types or scans at the kiosk.
    pub code: String,
    pub hall: String,
    pub service: String,
    pub date: String,
    pub slot: AppointmentSlot,
    pub state: BookingState,
    pub name: String,
    pub phone: String,
    pub id_number: String,
    /// Check-in at the hall's kiosk is possible from … until ….
    pub check_in_from: DateTime<Utc>,
    pub check_in_until: DateTime<Utc>,
    /// It can be cancelled until then.
    pub cancel_until: DateTime<Utc>,
    /// The ticket of the check-in.
    #[serde(default)]
    pub ticket: Option<u64>,
    pub created_at: DateTime<Utc>,
}

/// `POST /api/v1/appointments/{code}/view` and `…/cancel`: the booker proves it is theirs (in the
/// body: a phone number has no place in a URL, where logs and histories keep it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BookingLookup {
    pub phone: String,
}

/// `POST /api/v1/appointments/lookup` (public, limited per address): "my bookings" by the mobile
/// number and the ID number they were made with. In a body, so they stay out of URLs and logs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MyBookingsRequest {
    pub phone: String,
    pub id_number: String,
}

/// The bookings of today and later made with that phone and ID number (masked), soonest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MyBookings {
    pub bookings: Vec<Booking>,
}

/// `POST /api/v1/halls/{hall}/check-in`: by the booking code or by the ID number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub id_number: Option<String>,
    #[serde(default)]
    pub request_id: Option<String>,
}

/// `GET /api/v1/appointments?date=[&hall=]` (supervisors).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppointmentsQuery {
    pub date: String,
    #[serde(default)]
    pub hall: Option<String>,
}

/// One hall's appointments of one day (`GET /api/v1/appointments/stats?from=&to=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentDayStats {
    pub day: String,
    pub hall: String,
    pub booked: u32,
    pub cancelled: u32,
    pub checked_in: u32,
    pub no_show: u32,
}

/// `POST /api/v1/tickets/{id}/phone`: a mobile number for a waiting ticket's text messages
/// (one when the turn is near, one when called), proven by the code sent with
/// `POST /api/v1/appointments/phone-code`. The number is kept for the day only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketPhoneRequest {
    pub phone: String,
    /// The one-time code sent to the phone; not needed from the ticket's hall kiosk, where the
    /// taxpayer types the number in person.
    #[serde(default)]
    pub phone_code: String,
}

/// The number was taken: shown masked (138****1234).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketPhone {
    pub ticket: u64,
    pub phone: String,
}

/// `POST /api/v1/halls/{hall}/remote-tickets` (public): a remote ticket (线上取号) for today,
/// for a phone proven by the code `POST /api/v1/appointments/phone-code` sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteTicketRequest {
    pub service: String,
    pub phone: String,
    pub phone_code: String,
    /// Makes a retry safe: the same request id answers with the same ticket.
    pub request_id: String,
}

/// A remote ticket taken: the ticket, the code that checks it in at the kiosk (typed, or
/// scanned from the QR code of `page`), and its page (which shows the code: keep it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemoteTicket {
    pub ticket: crate::Ticket,
    pub code: String,
    pub page: String,
    /// The phone, masked (138****1234): texted before the turn and when called.
    pub phone: String,
}
