//! Web pages embedded in the binary: the clerk console (`/counter`), the small screen above a
//! window (`/screen/counter/{counter}`), the rating pad (`/rate/{counter}`) and the public
//! status page of a ticket (`/t/{id}`, the QR code printed on every ticket).
//!
//! The pages are static HTML + CSS + JS from `server/web/`; they talk to the JSON API and the
//! hall event stream like any other client.

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use qcall_wire::{self as wire, ErrorCode};

use super::{AppError, AppState};

const COUNTER_HTML: &str = include_str!("../../web/counter.html");
const SCREEN_HTML: &str = include_str!("../../web/screen.html");
const RATE_HTML: &str = include_str!("../../web/rate.html");
const APP_CSS: &str = include_str!("../../web/app.css");
const APP_JS: &str = include_str!("../../web/app.js");
const COUNTER_JS: &str = include_str!("../../web/counter.js");
const SCREEN_JS: &str = include_str!("../../web/screen.js");
const RATE_JS: &str = include_str!("../../web/rate.js");
const BOOK_HTML: &str = include_str!("../../web/book.html");
const BOOK_TEXT_JS: &str = include_str!("../../web/book-text.js");
const BOOK_JS: &str = include_str!("../../web/book.js");
const BOOK_MINE_JS: &str = include_str!("../../web/book-mine.js");
const REMOTE_HTML: &str = include_str!("../../web/remote.html");
const REMOTE_JS: &str = include_str!("../../web/remote.js");
const TICKET_JS: &str = include_str!("../../web/ticket.js");
const BOOK_CSS: &str = include_str!("../../web/book.css");
const SUPERVISOR_HTML: &str = include_str!("../../web/supervisor.html");
const SUPERVISOR_JS: &str = include_str!("../../web/supervisor.js");
const REPORTS_HTML: &str = include_str!("../../web/reports.html");
const REPORTS_JS: &str = include_str!("../../web/reports.js");
const CHART_JS: &str = include_str!("../../web/chart.js");

/// Scripts and styles come only from this server; no inline script.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn respond(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let mut r = body.into().into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    r
}

fn html(body: impl Into<axum::body::Body>) -> Response {
    respond("text/html; charset=utf-8", body)
}

fn known_counter(s: &AppState, counter: &str) -> Result<(), AppError> {
    super::extract::counter_ix(s, counter).map(|_| ())
}

pub async fn counter() -> Response {
    html(COUNTER_HTML)
}

/// `/supervisor`: the duty leader's overview.
pub async fn supervisor() -> Response {
    html(SUPERVISOR_HTML)
}

/// `/supervisor/reports`: the period report with tables and charts.
pub async fn supervisor_reports() -> Response {
    html(REPORTS_HTML)
}

pub async fn screen(State(s): State<AppState>, Path(counter): Path<String>) -> Result<Response, AppError> {
    known_counter(&s, &counter)?;
    Ok(html(SCREEN_HTML))
}

/// `/book`: the public booking page (提前预约).
pub async fn book() -> Response {
    html(BOOK_HTML)
}

/// `/now`: a number for today taken on the phone (线上取号), checked in at the kiosk.
pub async fn remote() -> Response {
    html(REMOTE_HTML)
}

fn booking_code(code: &str) -> Result<(), AppError> {
    if code.len() == 8 && code.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(AppError::new(ErrorCode::UnknownBooking, "booking codes are 8 digits"))
    }
}

/// `/book/{code}`: the same page, showing one booking (after the phone number is given).
pub async fn book_code(Path(code): Path<String>) -> Result<Response, AppError> {
    booking_code(&code)?;
    Ok(html(BOOK_HTML))
}

/// `/book/qr/{code}.svg`: the QR code of a booking code, for the kiosk's scanner. It holds the
/// 8 digits and nothing else (no lookup: a code is not looked up here).
pub async fn book_qr(Path(file): Path<String>) -> Result<Response, AppError> {
    let code = file.strip_suffix(".svg").unwrap_or("");
    booking_code(code)?;
    let qr = qrcode::QrCode::with_error_correction_level(code.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| AppError::internal(e.to_string()))?;
    let svg = qr.render::<qrcode::render::svg::Color<'_>>().min_dimensions(240, 240).quiet_zone(true).build();
    Ok(respond("image/svg+xml", svg))
}

pub async fn rate(State(s): State<AppState>, Path(counter): Path<String>) -> Result<Response, AppError> {
    known_counter(&s, &counter)?;
    Ok(html(RATE_HTML))
}

/// `/web/{file}` on the public face: only what the booking and ticket pages load.
pub async fn public_asset(Path(file): Path<String>) -> Result<Response, AppError> {
    match file.as_str() {
        "app.css" | "app.js" | "book-text.js" | "book.js" | "book-mine.js" | "book.css" | "ticket.js" | "remote.js" => asset(Path(file)).await,
        _ => Err(AppError::new(ErrorCode::NotFound, "no such file")),
    }
}

/// `/web/{file}`: the shared stylesheet and the page scripts.
pub async fn asset(Path(file): Path<String>) -> Result<Response, AppError> {
    let (ct, body) = match file.as_str() {
        "app.css" => ("text/css; charset=utf-8", APP_CSS),
        "app.js" => ("text/javascript; charset=utf-8", APP_JS),
        "counter.js" => ("text/javascript; charset=utf-8", COUNTER_JS),
        "supervisor.js" => ("text/javascript; charset=utf-8", SUPERVISOR_JS),
        "reports.js" => ("text/javascript; charset=utf-8", REPORTS_JS),
        "chart.js" => ("text/javascript; charset=utf-8", CHART_JS),
        "screen.js" => ("text/javascript; charset=utf-8", SCREEN_JS),
        "rate.js" => ("text/javascript; charset=utf-8", RATE_JS),
        "book-text.js" => ("text/javascript; charset=utf-8", BOOK_TEXT_JS),
        "book.js" => ("text/javascript; charset=utf-8", BOOK_JS),
        "book-mine.js" => ("text/javascript; charset=utf-8", BOOK_MINE_JS),
        "remote.js" => ("text/javascript; charset=utf-8", REMOTE_JS),
        "book.css" => ("text/css; charset=utf-8", BOOK_CSS),
        "ticket.js" => ("text/javascript; charset=utf-8", TICKET_JS),
        _ => return Err(AppError::new(ErrorCode::NotFound, "no such file")),
    };
    Ok(respond(ct, body))
}

/// Seconds between reloads of the ticket status page.
const TICKET_REFRESH_S: u32 = 15;

/// `/t/{id}`: where the QR code on a printed ticket points. Number, state, people ahead and
/// the estimate; reloads itself. Shows nothing personal. `?large=1`: the 大字版 (large type).
/// An unknown or malformed ticket gets a page that says so, not an API error.
pub async fn ticket(State(s): State<AppState>, Path(id): Path<String>, RawQuery(query): RawQuery) -> Result<Response, AppError> {
    let large = query.as_deref().is_some_and(|q| q.split('&').any(|p| p == "large=1"));
    let found = match super::extract::ticket_id(&id) {
        Ok(id) => super::api::find_ticket(&s, id).await?,
        Err(_) => None,
    };
    let Some(t) = found else {
        let page = page_shell(
            "未找到该号码 · Ticket not found",
            large,
            "<main class=\"ticket-card state-done\"><h1 class=\"small\">未找到该号码</h1>\
             <p>请核对号票上的二维码，或到导税台咨询。</p><p class=\"muted\">No such ticket: check the QR code on your ticket, or ask at the help desk.</p></main>",
        );
        return Ok((StatusCode::NOT_FOUND, html(page)).into_response());
    };
    let topo = &s.cfg.topology;
    let hall_name = topo.hall_ix(&t.hall).map(|h| format!("{} {}", topo.halls[h].name_zh, topo.halls[h].name_en)).unwrap_or_default();
    let address = topo.hall_ix(&t.hall).map(|h| topo.halls[h].address.clone()).unwrap_or_default();
    // Text messages: the number left (masked), or the offer while it waits.
    let texts = if !s.cfg.ticket_texts() {
        Texts::Off
    } else {
        match s.engine.shared.core.read().await.texts.phones.get(&t.id) {
            // The page is anyone's who has the ticket's address: the number's last four only.
            Some(p) => Texts::On(p.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect()),
            None => Texts::Offered(topo.hall_ix(&t.hall).and_then(|h| s.cfg.notify.get(h).copied()).unwrap_or(crate::config::Notify { ahead: 3, minutes: 10 })),
        }
    };
    let service = topo.service_ix(&t.service).map(|i| &topo.services[i]).map(|sv| format!("{} {}", sv.name_zh, sv.name_en)).unwrap_or_default();
    // A remote ticket's check-in code shows only to whoever has it (the taker's own link): the
    // ticket's id alone is guessable.
    let given = query.as_deref().and_then(|q| q.split('&').find_map(|p| p.strip_prefix("c=")));
    let code = match (given, t.remote.as_ref()) {
        (Some(c), Some(r)) if !r.checked_in => {
            let core = s.engine.shared.core.read().await;
            core.state
                .ticket(t.id)
                .and_then(|t| t.remote.as_ref())
                .filter(|r| crate::phone_codes::same(r.code.as_bytes(), c.as_bytes()))
                .map(|r| r.code.to_string())
        }
        _ => None,
    };
    // Rating on the phone, from the ticket's own link (the printed QR code's), where the hall
    // takes phone ratings: offered once it is finished today, thanked once rated.
    let key = query.as_deref().and_then(|q| q.split('&').find_map(|p| p.strip_prefix("k=")));
    let rating = match key {
        Some(k) if crate::phone_codes::same(s.ticket_link_key(t.id).as_bytes(), k.as_bytes()) => {
            let core = s.engine.shared.core.read().await;
            match core.state.ticket(t.id) {
                Some(live) if topo.halls[live.hall].phone.ratings && live.state == wire::TicketState::Finished => match live.rating {
                    Some(score) => Rating::Done(score),
                    None => Rating::Offered { key: k.to_string(), reasons: topo.rating_reasons.clone() },
                },
                _ => Rating::Off,
            }
        }
        _ => Rating::Off,
    };
    let place = Place { hall: &hall_name, address: &address, service: &service };
    Ok(html(ticket_page(&t, &place, &Extras { texts, code: code.as_deref(), rating }, topo.tz, large)))
}

/// A whole page around `body`: the shared stylesheet, large type when asked.
fn page_shell(title: &str, large: bool, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/web/app.css\"></head>\
         <body class=\"ticket-page{}\">{body}</body></html>",
        if large { " large" } else { "" },
        title = esc(title),
    )
}

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// 5 非常满意 … 1 非常不满意, with the English.
fn score_name(score: u8) -> &'static str {
    match score {
        5 => "非常满意 · Very satisfied",
        4 => "满意 · Satisfied",
        3 => "基本满意 · Fair",
        2 => "不满意 · Dissatisfied",
        _ => "非常不满意 · Very dissatisfied",
    }
}

/// "约 12–18 分钟" for a ticket with a range, else "约 12 分钟", under 5 minutes "少于 5 分钟"
/// ([`wire::WaitMinutes`]), in Chinese and English.
fn wait_text(t: &wire::Ticket) -> (String, String) {
    match wire::WaitMinutes::of(t.est_wait_s, t.est_wait_range_s) {
        wire::WaitMinutes::Short => ("少于 5 分钟".to_string(), "under 5 min".to_string()),
        wire::WaitMinutes::About(m) => (format!("约 {m} 分钟"), format!("about {m} min")),
        wire::WaitMinutes::Between(a, b) => (format!("约 {a}–{b} 分钟"), format!("about {a}–{b} min")),
    }
}

/// The ticket's text messages: not offered here, on (to the number ending in these four
/// digits), or offered.
enum Texts {
    Off,
    On(String),
    Offered(crate::config::Notify),
}

/// Rating on the phone: not here, offered (with the link's key and the 差评 reasons), or done.
enum Rating {
    Off,
    Offered { key: String, reasons: Vec<String> },
    Done(u8),
}

/// What a ticket's page may add for its holder: texts, a remote ticket's check-in code, rating.
struct Extras<'a> {
    texts: Texts,
    code: Option<&'a str>,
    rating: Rating,
}

/// Where a ticket is: its hall's name and address, and its service's name.
struct Place<'a> {
    hall: &'a str,
    address: &'a str,
    service: &'a str,
}

/// The ticket's card. A live one (waiting or called) follows the hall's event stream with
/// `ticket.js`, which takes this page again after each event and puts the new card in place;
/// without script it reloads every [`TICKET_REFRESH_S`] seconds.
fn ticket_page(t: &wire::Ticket, place: &Place, extras: &Extras, tz: chrono_tz::Tz, large: bool) -> String {
    use wire::TicketState as S;
    let (texts, code) = (&extras.texts, extras.code);
    let remote = t.remote.as_ref().filter(|r| !r.checked_in && t.state == S::Waiting);
    let window = t.counter_number.map(|n| format!("{n} 号窗口 · window {n}")).unwrap_or_default();
    let (wait_zh, wait_en) = if t.unstaffed { ("暂无窗口办理".to_string(), "no counter open yet".to_string()) } else { wait_text(t) };
    let (state_class, state, detail) = match t.state {
        S::Waiting if remote.is_some_and(|r| r.held_until.is_some()) => {
            let until = remote.and_then(|r| r.held_until).map(|u| u.with_timezone(&tz).format("%H:%M").to_string()).unwrap_or_default();
            (
                "held",
                "已到号，请尽快签到 · Your turn has come".to_string(),
                format!(
                    "<p class=\"big-window\" id=\"hold\">请于 {until} 前到取号机签到</p>\
                     <p class=\"muted\">Check in at the hall's kiosk by {until}: you are then called next. After that the number lapses (过号).</p>"
                ),
            )
        }
        S::Waiting => (
            "waiting",
            "等候中 · Waiting".to_string(),
            format!(
                "<div class=\"facts\"><div><span class=\"k\">前面还有 · People ahead</span><span class=\"v\" id=\"ahead\">{}</span></div>\
                 <div><span class=\"k\">预计等候 · Estimated wait</span><span class=\"v{}\" id=\"estimate\">{}</span>\
                 <span class=\"k\">{}</span></div></div>",
                t.waiting_ahead,
                if t.unstaffed { " unstaffed" } else { "" },
                esc(&wait_zh),
                esc(&wait_en)
            ),
        ),
        S::Called => (
            "called",
            "轮到您了 · It is your turn".to_string(),
            // One sentence, as the hall TV says it: 请到 2 号窗口办理.
            match t.counter_number {
                Some(n) => format!("<p class=\"big-window\" id=\"window\">请到 {n} 号窗口办理</p><p class=\"muted\">Please go to window {n}</p>"),
                None => format!("<p class=\"big-window\" id=\"window\">{}</p>", esc(&window)),
            },
        ),
        S::Finished => ("done", "已办结 · Finished".to_string(), "<p>感谢您的耐心等候。Thank you for waiting.</p>".to_string()),
        S::NoShow => (
            "noshow",
            "已过号 · Missed".to_string(),
            "<p class=\"advice\" id=\"advice\">叫号时您不在。请带号票到导税台或任一窗口，工作人员可为您重新排队。</p>\
             <p class=\"muted\">Your number was called while you were away. Show your ticket at the help desk or any counter: staff can put you back in the queue.</p>"
                .to_string(),
        ),
        S::Expired => ("done", "已失效 · Expired".to_string(), "<p>该号码已过期。This ticket has expired.</p>".to_string()),
        S::Moved => (
            "waiting",
            "已转至其他服务厅 · Transferred".to_string(),
            "<p>您的号码已转至其他服务厅，号码不变，请前往该厅等候叫号。Your number was transferred to another hall: wait there to be called, under the same number.</p>"
                .to_string(),
        ),
        S::Unfinished => (
            "done",
            "未办结 · Not finished".to_string(),
            "<p>办理时间已结束，业务未办结。请再取号或到导税台咨询。Service ended with the day before it was finished: please take a new ticket or ask at the help desk.</p>"
                .to_string(),
        ),
    };
    // 绿色通道 and 预约 are said, so that a number called ahead of others is understood.
    let mut tags = String::new();
    if t.priority == wire::Priority::Priority {
        tags.push_str("<span class=\"tag prio\" id=\"tag-priority\">绿色通道 · Priority lane</span>");
    }
    if t.remote.is_some() {
        tags.push_str("<span class=\"tag remote\" id=\"tag-remote\">线上 · Taken online</span>");
    }
    if let Some(a) = &t.appointment {
        let f = |x: chrono::DateTime<chrono::Utc>| x.with_timezone(&tz).format("%H:%M").to_string();
        tags.push_str(&format!("<span class=\"tag appt\" id=\"tag-appointment\">预约 {}-{} · Appointment</span>", f(a.start), f(a.end)));
    }
    let live = matches!(t.state, S::Waiting | S::Called);
    let here = format!("/t/{}{}", t.id, if large { "?large=1" } else { "" });
    let refresh = if live { format!("<noscript><meta http-equiv=\"refresh\" content=\"{TICKET_REFRESH_S}; url={here}\"></noscript>") } else { String::new() };
    let note = if live {
        format!(
            "<button type=\"button\" class=\"alerts-on\" id=\"alerts-on\" hidden>到号时提醒我（声音、振动）· Alert me at my turn</button>\
             <p class=\"muted\" id=\"alerts-done\" hidden>已开启到号提醒，请保持本页打开 · Alerts on: keep this page open</p>\
             <p class=\"muted\" id=\"live\">本页实时更新 · This page updates by itself\
             <noscript>（每 {TICKET_REFRESH_S} 秒刷新 · every {TICKET_REFRESH_S} s）</noscript></p>"
        )
    } else {
        String::new()
    };
    // A remote ticket not checked in: how to check in, and (for its taker) the code.
    let check_in = match (remote, code) {
        (Some(_), Some(code)) => format!(
            "<div class=\"check-in\" id=\"check-in\"><p>到达后请在取号机点“预约签到”，扫描下方二维码或输入签到码 · \
             At the hall, touch 预约签到 on the kiosk and scan this code or type it</p>\
             <img class=\"qr\" src=\"/book/qr/{code}.svg\" alt=\"签到码 {code}\" width=\"180\" height=\"180\">\
             <p class=\"code\" id=\"check-in-code\">{spaced}</p>\
             <p class=\"muted\">签到前不会叫号；轮到您时尚未签到，号码保留一段时间并短信通知您。\
             · You are not called before you check in; if your turn comes first, your number is held for a while and you get a text.</p></div>",
            spaced = format!("{} {}", &code[..4.min(code.len())], &code[4.min(code.len())..]),
        ),
        (Some(_), None) => "<p class=\"check-in\" id=\"check-in\">线上取号：到达后请在取号机签到（签到码见取号后的页面或短信）。\
             · Taken online: check in at the hall's kiosk on arrival.</p>"
            .to_string(),
        _ => String::new(),
    };
    let texts_on = match texts {
        Texts::On(tail) if live => {
            format!("<p class=\"muted\" id=\"texts-on\">短信提醒已开启（尾号 {t}）· Texts on (number ending {t})</p>", t = esc(tail))
        }
        _ => String::new(),
    };
    // Outside the card, which is replaced after every event: what is typed stays.
    let texts_form = match texts {
        Texts::Offered(n) if t.state == S::Waiting => format!(
            "<section class=\"ticket-card texts\" id=\"texts\" hidden><h2>到号短信提醒 · Text me</h2>\
             <p class=\"muted\">前面还剩 {a} 人或约 {m} 分钟时发一条，叫到您时再发一条。号码只保存到今天营业结束。\
             · One text when {a} people or about {m} minutes are left, one when you are called. The number is deleted at the end of the day.</p>\
             <label for=\"texts-phone\">手机号 · Mobile number</label>\
             <input id=\"texts-phone\" type=\"tel\" inputmode=\"numeric\" maxlength=\"11\" autocomplete=\"tel\">\
             <button type=\"button\" id=\"texts-send\">获取验证码 · Send code</button>\
             <p class=\"muted\" id=\"texts-hint\"></p>\
             <label for=\"texts-code\">验证码 · Code</label>\
             <input id=\"texts-code\" inputmode=\"numeric\" maxlength=\"6\" autocomplete=\"one-time-code\">\
             <button type=\"button\" class=\"primary\" id=\"texts-submit\">开启短信提醒 · Turn on texts</button>\
             <p class=\"err\" id=\"texts-err\" role=\"alert\"></p></section>",
            a = n.ahead,
            m = n.minutes
        ),
        _ => String::new(),
    };
    let rate = match &extras.rating {
        Rating::Off => String::new(),
        Rating::Done(score) => format!("<p class=\"rated\" id=\"rated\">您的评价：{} · Thank you for rating</p>", esc(score_name(*score))),
        Rating::Offered { key, reasons } => format!(
            "<section class=\"phone-rate\" id=\"rate\" data-key=\"{key}\"><h2>请评价本次服务 · Rate this service</h2>\
             <div class=\"phone-scores\">{scores}</div>\
             <fieldset class=\"phone-reasons\" id=\"rate-reasons\" hidden><legend>哪里不满意（可多选）· What was wrong</legend>{boxes}</fieldset>\
             <button type=\"button\" class=\"primary\" id=\"rate-send\" disabled>提交评价 · Send</button>\
             <p class=\"err\" id=\"rate-err\" role=\"alert\"></p></section>",
            key = esc(key),
            scores = (1..=5u8)
                .rev()
                .map(|n| format!("<button type=\"button\" class=\"phone-score\" data-score=\"{n}\">{}</button>", esc(score_name(n))))
                .collect::<String>(),
            boxes = reasons
                .iter()
                .map(|r| format!("<label><input type=\"checkbox\" value=\"{r}\"> {r}</label>", r = esc(r)))
                .collect::<String>(),
        ),
    };
    let offered = matches!(extras.rating, Rating::Offered { .. });
    let scripts =
        if live || offered { "<script src=\"/web/app.js\"></script><script src=\"/web/ticket.js\"></script>" } else { "" };
    let state_name = match t.state {
        S::Waiting => "waiting",
        S::Called => "called",
        S::Finished => "finished",
        S::NoShow => "no_show",
        S::Expired => "expired",
        S::Unfinished => "unfinished",
        S::Moved => "moved",
    };
    let address = if place.address.is_empty() { String::new() } else { format!("<p class=\"muted address\" id=\"address\">{}</p>", esc(place.address)) };
    let switch = if large {
        format!("<a class=\"size-switch\" href=\"/t/{}\">标准字体 · Standard text</a>", t.id)
    } else {
        format!("<a class=\"size-switch\" href=\"/t/{}?large=1\">大字版 · Large text</a>", t.id)
    };
    format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">{refresh}\
         <title>{number} · 排队状态 Ticket status</title><link rel=\"stylesheet\" href=\"/web/app.css\"></head>\
         <body class=\"ticket-page{large}\"><main class=\"ticket-card state-{state_class}\" data-ticket=\"{id}\" \
         data-hall=\"{hall_id}\" data-state=\"{state_name}\">{switch}\
         <p class=\"muted\">{hall}</p>{address}<h1 id=\"number\">{number}</h1><p class=\"service\">{service}</p>\
         <p class=\"tags\">{tags}</p><p class=\"state\" id=\"state\">{state}</p>{detail}\
         {check_in}{rate}<p class=\"muted\">取号时间 · Issued {issued}</p>{texts_on}{note}</main>{texts_form}{scripts}</body></html>",
        id = t.id,
        hall_id = esc(&t.hall),
        number = esc(&t.number),
        hall = esc(place.hall),
        service = esc(place.service),
        issued = t.issued_at.with_timezone(&tz).format("%H:%M"),
        large = if large { " large" } else { "" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The keys of `MESSAGES` in `app.js`.
    fn page_codes() -> std::collections::BTreeSet<String> {
        let start = APP_JS.find("const MESSAGES = {").expect("app.js has MESSAGES");
        let body = &APP_JS[start..];
        let body = &body[..body.find("};").expect("MESSAGES ends")];
        body.lines()
            .filter_map(|l| l.trim().split_once(':').map(|(k, _)| k.trim().to_string()))
            .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
            .collect()
    }

    #[test]
    fn the_pages_know_every_error_code() {
        let pages = page_codes();
        let server: std::collections::BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.as_str().to_string()).collect();
        let unknown: Vec<_> = server.difference(&pages).collect();
        assert!(unknown.is_empty(), "the server can send codes the pages do not know: {unknown:?} (add them to MESSAGES in server/web/app.js)");
        let stale: Vec<_> = pages.difference(&server).collect();
        assert!(stale.is_empty(), "the pages know codes the server never sends: {stale:?}");
    }

    /// Pages decide by the server's time (`Q.now()`, `Q.today()`), never by the device's clock:
    /// only app.js's clock helper reads it.
    #[test]
    fn no_page_reads_the_device_clock() {
        let scripts = [
            ("counter.js", COUNTER_JS),
            ("screen.js", SCREEN_JS),
            ("rate.js", RATE_JS),
            ("book-text.js", BOOK_TEXT_JS),
            ("book.js", BOOK_JS),
            ("book-mine.js", BOOK_MINE_JS),
            ("remote.js", REMOTE_JS),
            ("supervisor.js", SUPERVISOR_JS),
            ("reports.js", REPORTS_JS),
            ("chart.js", CHART_JS),
            ("ticket.js", TICKET_JS),
        ];
        let reads = |js: &str| js.matches("Date.now()").count() + js.matches("new Date()").count() + js.matches("performance.now()").count();
        for (name, js) in scripts {
            assert_eq!(reads(js), 0, "{name} reads the device's clock: use Q.now() / Q.today() from app.js");
        }
        // app.js: the helper itself (now), and the two stamps around a request it learns from.
        assert_eq!(reads(APP_JS), 3, "app.js reads the device's clock outside its clock helper");
        for html in [COUNTER_HTML, SCREEN_HTML, RATE_HTML, BOOK_HTML, SUPERVISOR_HTML, REPORTS_HTML, REMOTE_HTML] {
            assert_eq!(reads(html), 0);
        }
    }
}
