//! One connection to the database, embedded SQLite or PostgreSQL, behind one small API.
//!
//! Statements are written once, in the SQL both accept: `?N` placeholders (PostgreSQL gets
//! `$N`), `GREATEST`/`LEAST` for the scalar maximum and minimum (SQLite gets `MAX`/`MIN`),
//! `CAST(SUM(..) AS BIGINT)` and `CAST(.. AS DOUBLE PRECISION)` where PostgreSQL would answer
//! `numeric`. Values and rows are of four kinds ([`Value`]); a row is read by position with
//! the type wanted ([`Row::get`]). Where the two really differ (the schema, JSON), the caller
//! asks [`Db::dialect`].

use std::collections::HashMap;
use std::time::Duration;

/// Which SQL the database speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A value bound to a statement or read from a row.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg_text(.0))]
    Postgres(#[from] postgres::Error),
    #[error("column {column}: {why}")]
    Type { column: usize, why: String },
    #[error("the query found no row")]
    NoRow,
    /// Another server holds the writer's lease now: this one may not commit.
    #[error("another server took over as the writer (lease epoch {held} is gone; the database is at {now})")]
    Fenced { held: i64, now: i64 },
    #[error("{0}")]
    Other(String),
}

/// PostgreSQL's own message, with its code, rather than the driver's "db error".
fn pg_text(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => format!("{} ({}): {}", d.message(), d.code().code(), d.detail().unwrap_or("")).trim_end_matches(": ").to_string(),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(x) = src {
                s.push_str(": ");
                s.push_str(&x.to_string());
                src = x.source();
            }
            s
        }
    }
}

impl DbError {
    /// The connection itself failed (not the statement): the outcome of a COMMIT sent on it is
    /// unknown, and the next use connects again.
    pub fn is_connection(&self) -> bool {
        match self {
            DbError::Postgres(e) => e.is_closed() || e.as_db_error().is_none(),
            _ => false,
        }
    }

    /// A constraint refused the statement (a unique key, NOT NULL, a check).
    pub fn is_constraint(&self) -> bool {
        match self {
            DbError::Sqlite(rusqlite::Error::SqliteFailure(e, _)) => e.code == rusqlite::ErrorCode::ConstraintViolation,
            DbError::Postgres(e) => e.code().is_some_and(|c| c.code().starts_with("23")),
            _ => false,
        }
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value { Value::Int(v as i64) }
        }
    )*};
}
from_int!(i64, i32, u32, u16, u8, u64, usize);

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Int(v as i64)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Value {
        Value::Real(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}
impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}
impl From<&std::sync::Arc<str>> for Value {
    fn from(v: &std::sync::Arc<str>) -> Value {
        Value::Text(v.to_string())
    }
}
impl From<&Box<str>> for Value {
    fn from(v: &Box<str>) -> Value {
        Value::Text(v.to_string())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}
macro_rules! from_ref {
    ($($t:ty),*) => {$(
        impl From<&$t> for Value {
            fn from(v: &$t) -> Value { (*v).into() }
        }
    )*};
}
from_ref!(i64, i32, u32, u16, u8, u64, usize, bool, f64);

/// `vals![a, b, c]`: the values to bind, in the order of `?1, ?2, ?3`.
#[macro_export]
macro_rules! vals {
    ($($v:expr),* $(,)?) => { &[$($crate::store::Value::from($v)),*][..] };
}

/// A value read from a row, in the type the caller wants.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> Result<Self, String>;
}

macro_rules! to_int {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> Result<$t, String> {
                match v {
                    Value::Int(i) => <$t>::try_from(*i).map_err(|_| format!("{i} is out of range")),
                    Value::Real(f) if f.fract() == 0.0 => <$t>::try_from(*f as i64).map_err(|_| format!("{f} is out of range")),
                    other => Err(format!("expected an integer, found {other:?}")),
                }
            }
        }
    )*};
}
to_int!(i64, i32, u32, u16, u8, u64, usize);

impl FromValue for f64 {
    fn from_value(v: &Value) -> Result<f64, String> {
        match v {
            Value::Int(i) => Ok(*i as f64),
            Value::Real(f) => Ok(*f),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}
impl FromValue for bool {
    fn from_value(v: &Value) -> Result<bool, String> {
        i64::from_value(v).map(|i| i != 0)
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> Result<String, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl FromValue for std::sync::Arc<str> {
    fn from_value(v: &Value) -> Result<Self, String> {
        String::from_value(v).map(Into::into)
    }
}
impl FromValue for Box<str> {
    fn from_value(v: &Value) -> Result<Self, String> {
        String::from_value(v).map(Into::into)
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> Result<Option<T>, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// One row of an answer.
#[derive(Debug, Clone)]
pub struct Row(Vec<Value>);

impl Row {
    pub fn get<T: FromValue>(&self, column: usize) -> Result<T, DbError> {
        let v = self.0.get(column).ok_or(DbError::Type { column, why: "no such column".into() })?;
        T::from_value(v).map_err(|why| DbError::Type { column, why })
    }

    /// The column as text, if it is text.
    pub fn text(&self, column: usize) -> Option<&str> {
        match self.0.get(column) {
            Some(Value::Text(s)) => Some(s),
            _ => None,
        }
    }
}

/// How to reach a PostgreSQL database (see `[store]` in the config).
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// The connection URL without its password (`target_session_attrs=read-write` with several
    /// hosts follows the primary).
    pub url: String,
    pub password: Option<String>,
    /// A bureau CA for `sslmode=require`/`verify-full` (else the system's roots).
    pub ca_file: Option<std::path::PathBuf>,
    /// How long a connection attempt may take, per host.
    pub connect_timeout: Duration,
}

impl PgSettings {
    /// The URL as logs and errors show it (no password).
    pub fn shown(&self) -> String {
        match self.url.parse::<postgres::Config>() {
            Ok(c) => {
                let hosts: Vec<String> = c
                    .get_hosts()
                    .iter()
                    .zip(c.get_ports().iter().chain(std::iter::repeat(&5432)))
                    .map(|(h, p)| match h {
                        postgres::config::Host::Tcp(h) => format!("{h}:{p}"),
                        postgres::config::Host::Unix(p) => p.display().to_string(),
                    })
                    .collect();
                format!("postgresql://{}/{}", hosts.join(","), c.get_dbname().unwrap_or(""))
            }
            Err(_) => "postgresql://(invalid url)".into(),
        }
    }

    fn config(&self) -> Result<postgres::Config, DbError> {
        let mut c = self.url.parse::<postgres::Config>().map_err(|e| DbError::Other(format!("the store's url: {e}")))?;
        if let Some(p) = &self.password {
            c.password(p);
        }
        c.connect_timeout(self.connect_timeout);
        c.application_name("qcall");
        Ok(c)
    }

    /// The system's authorities, plus the bureau's CA (`ca_file`): the same trust as the
    /// devices' `https://` links.
    fn tls(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, DbError> {
        let cfg = qcall_client::tls_client_config(self.ca_file.as_deref()).map_err(|e| DbError::Other(e.to_string()))?;
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new((*cfg).clone()))
    }
}

struct Pg {
    settings: PgSettings,
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
    /// Session settings, run again on every new connection.
    setup: Vec<String>,
}

impl Pg {
    fn client(&mut self) -> Result<&mut postgres::Client, DbError> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            self.statements.clear();
            self.client = None;
            let cfg = self.settings.config()?;
            // `sslmode=require` is TLS with the server's certificate checked (against `ca_file`,
            // else the system's roots); `prefer` (the default) and `disable` connect in plain.
            let client = if matches!(cfg.get_ssl_mode(), postgres::config::SslMode::Require) {
                cfg.connect(self.settings.tls()?)?
            } else {
                cfg.connect(postgres::NoTls)?
            };
            self.client = Some(client);
            for sql in &self.setup {
                self.client.as_mut().expect("connected").batch_execute(sql)?;
            }
        }
        Ok(self.client.as_mut().expect("connected"))
    }

    fn statement(&mut self, sql: &str) -> Result<(postgres::Statement, &mut postgres::Client), DbError> {
        let translated = to_postgres(sql);
        self.client()?;
        let client = self.client.as_mut().expect("connected");
        let st = match self.statements.get(&translated) {
            Some(st) => st.clone(),
            None => {
                let st = client.prepare(&translated)?;
                if self.statements.len() > 256 {
                    self.statements.clear();
                }
                self.statements.insert(translated, st.clone());
                st
            }
        };
        Ok((st, client))
    }

    /// A failed statement on a broken connection: drop it, so the next use connects again.
    fn check<T>(&mut self, r: Result<T, DbError>) -> Result<T, DbError> {
        if r.as_ref().err().is_some_and(DbError::is_connection) {
            if let Some(c) = self.client.take() {
                drop_off_runtime(c);
            }
            self.statements.clear();
        }
        r
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let r = (|| {
            let (st, client) = self.statement(sql)?;
            Ok(client.execute(&st, &pg_params(params))? as usize)
        })();
        self.check(r)
    }

    fn for_each(&mut self, sql: &str, params: &[Value], each: &mut dyn FnMut(Row) -> Result<bool, DbError>) -> Result<(), DbError> {
        let r = (|| {
            use postgres::fallible_iterator::FallibleIterator;
            let (st, client) = self.statement(sql)?;
            let mut it = client.query_raw(&st, pg_params(params))?;
            while let Some(r) = it.next()? {
                if !each(pg_row(&r)?)? {
                    break;
                }
            }
            Ok(())
        })();
        self.check(r)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        let r = (|| Ok(self.client()?.batch_execute(sql)?))();
        self.check(r)
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            drop_off_runtime(c);
        }
    }
}

/// The synchronous driver runs its own small runtime: it may not be used, nor dropped, on a
/// thread inside another runtime (an async task, a test's body). There, it runs on a thread of
/// its own for the call.
fn in_runtime() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
}

fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if in_runtime() {
        std::thread::scope(|s| s.spawn(f).join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
    } else {
        f()
    }
}

fn drop_off_runtime(c: postgres::Client) {
    if in_runtime() {
        let _ = std::thread::Builder::new().name("qcall-pg-close".into()).spawn(move || drop(c));
    } else {
        drop(c);
    }
}

enum Inner {
    Sqlite(rusqlite::Connection),
    Postgres(Box<Pg>),
}

/// One connection (SQLite: a file; PostgreSQL: a client that connects again after a failure).
pub struct Db {
    inner: Inner,
    /// Where it is, for messages: the file, or the URL without its password.
    place: String,
}

impl Db {
    pub fn from_sqlite(conn: rusqlite::Connection, place: String) -> Db {
        conn.set_prepared_statement_cache_capacity(64);
        Db { inner: Inner::Sqlite(conn), place }
    }

    /// A PostgreSQL connection; connects now, so a wrong URL or password shows at once.
    pub fn postgres(settings: &PgSettings) -> Result<Db, DbError> {
        let place = settings.shown();
        let mut pg = Pg { settings: settings.clone(), client: None, statements: HashMap::new(), setup: vec![] };
        off_runtime(|| pg.client().map(|_| ()))?;
        Ok(Db { inner: Inner::Postgres(Box::new(pg)), place })
    }

    pub fn dialect(&self) -> Dialect {
        match self.inner {
            Inner::Sqlite(_) => Dialect::Sqlite,
            Inner::Postgres(_) => Dialect::Postgres,
        }
    }

    pub fn place(&self) -> &str {
        &self.place
    }

    /// The SQLite connection (SQLite-only tooling: pragmas, backups).
    pub fn sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.inner {
            Inner::Sqlite(c) => Some(c),
            Inner::Postgres(_) => None,
        }
    }

    /// Runs a statement; how many rows it changed.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        match &mut self.inner {
            Inner::Sqlite(c) => Ok(c.prepare_cached(&to_sqlite(sql))?.execute(rusqlite::params_from_iter(params))?),
            Inner::Postgres(pg) => off_runtime(|| pg.execute(sql, params)),
        }
    }

    /// Runs a query; every row of its answer.
    pub fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let mut out = vec![];
        self.for_each(sql, params, |r| {
            out.push(r);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first row of a query's answer, if there is one.
    pub fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        let mut first = None;
        self.for_each(sql, params, |r| {
            first = Some(r);
            Ok(false)
        })?;
        Ok(first)
    }

    /// The first row of a query's answer, which must have one.
    pub fn query_one(&mut self, sql: &str, params: &[Value]) -> Result<Row, DbError> {
        self.query_opt(sql, params)?.ok_or(DbError::NoRow)
    }

    /// Hands the answer's rows to `each` one at a time, without holding them all, until it
    /// answers `false`.
    pub fn for_each(&mut self, sql: &str, params: &[Value], mut each: impl FnMut(Row) -> Result<bool, DbError>) -> Result<(), DbError> {
        match &mut self.inner {
            Inner::Sqlite(c) => {
                let mut st = c.prepare_cached(&to_sqlite(sql))?;
                let n = st.column_count();
                let mut rows = st.query(rusqlite::params_from_iter(params))?;
                while let Some(r) = rows.next()? {
                    let mut vals = Vec::with_capacity(n);
                    for i in 0..n {
                        vals.push(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => Value::Null,
                            rusqlite::types::ValueRef::Integer(i) => Value::Int(i),
                            rusqlite::types::ValueRef::Real(f) => Value::Real(f),
                            rusqlite::types::ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
                            rusqlite::types::ValueRef::Blob(b) => Value::Text(hex::encode(b)),
                        });
                    }
                    if !each(Row(vals))? {
                        break;
                    }
                }
                Ok(())
            }
            Inner::Postgres(pg) if in_runtime() => {
                let rows = off_runtime(|| {
                    let mut rows = vec![];
                    pg.for_each(sql, params, &mut |r| {
                        rows.push(r);
                        Ok(true)
                    })
                    .map(|()| rows)
                })?;
                for r in rows {
                    if !each(r)? {
                        break;
                    }
                }
                Ok(())
            }
            Inner::Postgres(pg) => pg.for_each(sql, params, &mut each),
        }
    }

    /// A session setting (`SET …`), kept for every later connection too (PostgreSQL).
    pub fn session(&mut self, sql: &str) -> Result<(), DbError> {
        if let Inner::Postgres(pg) = &mut self.inner {
            pg.setup.retain(|s| s != sql);
            pg.setup.push(sql.to_string());
        }
        self.batch(sql)
    }

    /// Runs several statements without parameters (a migration).
    pub fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        match &mut self.inner {
            Inner::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Inner::Postgres(pg) => off_runtime(|| pg.batch(sql)),
        }
    }

    /// Runs `f` in one transaction: committed when it succeeds, rolled back when it fails.
    pub fn transaction<T>(&mut self, f: impl FnOnce(&mut Db) -> Result<T, DbError>) -> Result<T, DbError> {
        self.batch("BEGIN")?;
        match f(self) {
            Ok(v) => {
                self.batch("COMMIT")?;
                Ok(v)
            }
            Err(e) => {
                if let Err(r) = self.batch("ROLLBACK") {
                    tracing::debug!(error = %r, "rollback failed");
                }
                Err(e)
            }
        }
    }
}

/// `?N` -> `$N` (no statement of ours has a `?` inside a string).
fn to_postgres(sql: &str) -> String {
    sql.replace('?', "$")
}

/// PostgreSQL's scalar `GREATEST`/`LEAST` are SQLite's many-argument `MAX`/`MIN`.
fn to_sqlite(sql: &str) -> std::borrow::Cow<'_, str> {
    if sql.contains("GREATEST(") || sql.contains("LEAST(") {
        sql.replace("GREATEST(", "MAX(").replace("LEAST(", "MIN(").into()
    } else {
        sql.into()
    }
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
        }))
    }
}

fn pg_params(params: &[Value]) -> Vec<&(dyn postgres::types::ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn postgres::types::ToSql + Sync)).collect()
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match (self, ty) {
            (Value::Null, _) => Ok(postgres::types::IsNull::Yes),
            (Value::Int(i), &Type::INT8) => i.to_sql(ty, out),
            (Value::Int(i), &Type::INT4) => i32::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::INT2) => i16::try_from(*i)?.to_sql(ty, out),
            (Value::Int(i), &Type::FLOAT8) => (*i as f64).to_sql(ty, out),
            (Value::Int(i), &Type::BOOL) => (*i != 0).to_sql(ty, out),
            (Value::Int(i), _) => i.to_string().to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT8) => f.to_sql(ty, out),
            (Value::Real(f), &Type::FLOAT4) => (*f as f32).to_sql(ty, out),
            (Value::Real(f), _) => f.to_string().to_sql(ty, out),
            (Value::Text(s), _) => s.as_str().to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn pg_row(r: &postgres::Row) -> Result<Row, DbError> {
    use postgres::types::Type;
    let mut vals = Vec::with_capacity(r.len());
    for (i, c) in r.columns().iter().enumerate() {
        let v = match *c.type_() {
            Type::INT8 => r.try_get::<_, Option<i64>>(i)?.map(Value::Int),
            Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(|v| Value::Int(v.into())),
            Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(|v| Value::Int(v.into())),
            Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(|v| Value::Int(v.into())),
            Type::FLOAT8 => r.try_get::<_, Option<f64>>(i)?.map(Value::Real),
            Type::FLOAT4 => r.try_get::<_, Option<f32>>(i)?.map(|v| Value::Real(v.into())),
            Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR | Type::UNKNOWN => r.try_get::<_, Option<String>>(i)?.map(Value::Text),
            ref other => {
                return Err(DbError::Type { column: i, why: format!("PostgreSQL type {other} is not read (cast it in the query)") })
            }
        };
        vals.push(v.unwrap_or(Value::Null));
    }
    Ok(Row(vals))
}
