//! 好差评 cases: every rating of 1 (非常不满意) or 2 (不满意) opens a case that a supervisor
//! follows up — a callback (回访), the rectification (整改), an appeal (申诉) and its outcome —
//! and closes, within `[ratings] case_days` working days.

use serde::{Deserialize, Serialize};

use crate::Time;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    Open,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseNoteKind {
    /// 回访: the taxpayer was called back.
    Callback,
    /// 整改: what was changed.
    Rectification,
    /// 申诉: the clerk or the hall appeals the rating.
    Appeal,
    /// 复核: the outcome of the appeal.
    AppealOutcome,
    Note,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseNote {
    pub at: Time,
    /// The supervisor who wrote it.
    pub by: String,
    pub kind: CaseNoteKind,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Case {
    pub id: u64,
    pub ticket: u64,
    pub number: String,
    /// The business day of the ticket (`YYYY-MM-DD`).
    pub day: String,
    pub hall: String,
    pub service: String,
    pub counter: String,
    /// The clerk who served the ticket (`None` once forgotten after `retention_days`).
    pub clerk: Option<String>,
    #[serde(default)]
    pub clerk_name: String,
    pub rated_at: Time,
    pub score: u8,
    /// What the taxpayer said was wrong (from `[ratings] reasons`; none when not answered).
    pub reasons: Vec<String>,
    /// The last day to close it (`case_days` working days after the rating).
    pub deadline: String,
    pub state: CaseState,
    /// Still open after its deadline.
    pub overdue: bool,
    pub notes: Vec<CaseNote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// `GET /api/v1/cases?state=open|overdue|closed|all`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasesQuery {
    #[serde(default)]
    pub state: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CasesResponse {
    pub cases: Vec<Case>,
}

/// `POST /api/v1/cases/{id}/notes`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseNoteRequest {
    pub kind: CaseNoteKind,
    /// 1-1000 characters.
    pub text: String,
}

/// `POST /api/v1/cases/{id}/close`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseCloseRequest {
    /// 1-1000 characters: how it ended.
    pub summary: String,
}

/// `POST /api/v1/tickets/{id}/rating/reasons`: the pad's answer after a 差评.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingReasonsRequest {
    /// Any of `[ratings] reasons`.
    pub reasons: Vec<String>,
}

/// One rating in `GET /api/v1/reports/ratings` (JSON or CSV): for the provincial 好差评 system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingRow {
    pub ticket: u64,
    pub day: String,
    pub number: String,
    pub hall: String,
    pub service: String,
    pub counter: String,
    pub clerk: Option<String>,
    /// When the ticket was finished (ms since the epoch, UTC).
    pub finished_at: Option<i64>,
    pub score: u8,
    pub reasons: Vec<String>,
    /// `open`, `closed`, or `none` for a rating without a case (3 to 5).
    pub case_state: String,
}
