//! CSV answers for spreadsheets (Excel, WPS): a byte-order mark, CRLF, quoting, and cells that a
//! spreadsheet would run as a formula defused.

use axum::response::{IntoResponse, Response};

use super::AppError;

/// A CSV body as the answer (or an internal error when it could not be written).
pub fn csv_response(body: Result<String, csv::Error>) -> Result<Response, AppError> {
    let body = body.map_err(|e| AppError::internal(e.to_string()))?;
    Ok(([(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response())
}

/// CSV for spreadsheets: a byte-order mark (they then read the Chinese as UTF-8), the header,
/// CRLF line ends, fields quoted where needed, formula-like cells defused.
pub fn csv_table(header: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> Result<String, csv::Error> {
    let mut w = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    w.write_record(header)?;
    for fields in rows {
        w.write_record(fields.iter().map(|f| safe_cell(f).into_owned()))?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(format!("\u{feff}{}", String::from_utf8_lossy(&bytes)))
}

/// A spreadsheet would run a cell that starts with one of these as a formula.
fn safe_cell(v: &str) -> std::borrow::Cow<'_, str> {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}").into()
    } else {
        v.into()
    }
}
