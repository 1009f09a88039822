//! The qcall wire format, version 1: the whole protocol of the HTTP and WebSocket API.
//!
//! These types are what crosses the network between the server (`qcall`), the kiosks, the hall
//! displays and the web pages: every request body, response, stream message, query and error
//! code. They are deliberately separate from the domain types in `qcall-core`: the domain may
//! change shape without breaking a kiosk in the field, and a change here is a change of
//! protocol (bump [`API_VERSION`] and the `/api/vN` prefix).
//!
//! Every request body and query is parsed strictly (`deny_unknown_fields`).

mod alerts;
mod appointments;
mod cases;
mod counter;
mod edge;
mod error;
mod model;
mod overview;
mod requests;
mod stats;
mod stream;

pub use alerts::*;
pub use appointments::*;
pub use cases::*;
pub use counter::*;
pub use edge::*;
pub use error::*;
pub use model::*;
pub use overview::*;
pub use requests::*;
pub use stats::*;
pub use stream::*;

/// A moment in time, UTC (every time on the wire).
pub type Time = chrono::DateTime<chrono::Utc>;

/// Protocol version; the HTTP API lives under `/api/v{API_VERSION}`.
pub const API_VERSION: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn a_wait_is_told_in_whole_minutes_its_range_outward() {
        assert_eq!(WaitMinutes::of(299, None), WaitMinutes::Short);
        assert_eq!(WaitMinutes::of(300, None), WaitMinutes::About(5));
        assert_eq!(WaitMinutes::of(601, None), WaitMinutes::About(11));
        assert_eq!(WaitMinutes::of(1000, Some([719, 1261])), WaitMinutes::Between(11, 22));
    }

    #[test]
    fn stream_message_is_tagged_by_type_with_seq() {
        let m = StreamMessage {
            seq: 7,
            at: DateTime::from_timestamp(0, 0).unwrap(),
            hall: Some("east".into()),
            kind: EventKind::CounterPaused { counter: "E03".into(), counter_number: 3, reason: "午休".into() },
            queues: vec![],
        };
        let v: serde_json::Value = serde_json::to_value(&m).unwrap();
        assert_eq!(v["type"], "counter_paused");
        assert_eq!(v["seq"], 7);
        assert_eq!(v["counter_number"], 3);
        assert_eq!(v["reason"], "午休");
        let back: StreamMessage = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn requests_reject_unknown_fields() {
        let e = serde_json::from_str::<IssueRequest>(r#"{"service":"filing","x":1}"#);
        assert!(e.is_err());
        let ok: IssueRequest = serde_json::from_str(r#"{"service":"filing","priority":"priority"}"#).unwrap();
        assert_eq!(ok.priority, Some(Priority::Priority));
    }

    #[test]
    fn ticket_ref_accepts_id_or_number() {
        let a: CallRequest = serde_json::from_str(r#"{"ticket":17}"#).unwrap();
        assert_eq!(a.ticket, TicketRef::Id(17));
        let b: CallRequest = serde_json::from_str(r#"{"ticket":"A012"}"#).unwrap();
        assert_eq!(b.ticket, TicketRef::Number("A012".into()));
    }
}
