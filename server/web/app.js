// Shared helpers of the qcall web pages: JSON API calls, the live event stream, formatting.
"use strict";

const Q = (() => {
  class ApiError extends Error {
    constructor(status, code, message, detail) {
      super(message);
      this.status = status;
      this.code = code;
      /** The whole error object: retry_after_s, clerk, clerk_name where the code has them. */
      this.detail = detail || {};
    }
  }

  /**
   * What each error code of the API means, for people. Every code the server can send is here
   * (a test in the server compares this table with qcall-wire's ErrorCode).
   */
  const MESSAGES = {
    body_too_large: "请求内容过大 · The request is too large",
    bad_body: "请求无法读取 · The request could not be read",
    bad_utf8: "请求编码错误 · The request is not UTF-8",
    bad_json: "请求格式错误 · The request is malformed",
    bad_query: "查询参数错误 · The query is malformed",
    too_long: "内容过长 · Too long",
    empty_text: "请填写内容 · Please fill this in",
    bad_request_id: "请求编号无效 · The request id is not valid",
    websocket_required: "需要实时连接 · A live connection is required",
    not_found: "未找到 · Not found",
    method_not_allowed: "不支持的操作 · Not allowed here",
    unauthorized: "登录已失效，请重新登录 · Please sign in again",
    wrong_credentials: "工号或密码错误 · Unknown clerk or wrong PIN",
    signin_locked: "密码错误次数过多，已暂时锁定 · Too many wrong PINs: locked for a while",
    server_busy: "系统繁忙，请稍后再试 · The system is busy; try again in a moment",
    counter_not_allowed: "您不能在该窗口登录 · You may not sign in at this counter",
    counter_taken: "该窗口已有人员登录 · Someone is signed in at this counter",
    unsupported_media_type: "请求格式不受支持 · The request's format is not accepted",
    unknown_host: "地址不正确 · This server does not answer for that address",
    bad_origin: "不接受来自其他网站的请求 · Requests from other sites are refused",
    unknown_request: "没有这个取号请求 · No ticket for that request",
    forbidden: "无权进行此操作 · You may not do this",
    unknown_hall: "没有这个服务厅 · No such hall",
    unknown_service: "没有这项业务 · No such service",
    unknown_counter: "没有这个窗口 · No such counter",
    unknown_ticket: "没有这个号码 · No such ticket",
    unknown_device: "没有这个设备 · No such device",
    sold_out: "该业务今日号票已发完 · No more tickets for this service today",
    queue_empty: "暂无等候的号码 · Nobody is waiting",
    no_current_ticket: "当前没有正在办理的号码 · No ticket is being served",
    counter_paused: "窗口已暂停，请先恢复 · The counter is paused; resume first",
    counter_closed: "窗口未开启，请先登录 · The counter is closed; sign in first",
    already_paused: "窗口已经暂停 · The counter is already paused",
    not_paused: "窗口没有暂停 · The counter is not paused",
    unknown_pause_reason: "请选择暂停原因 · Choose why the counter pauses",
    unknown_alert: "没有这条提醒 · No such alert",
    unknown_case: "没有这个差评工单 · No such case",
    case_closed: "工单已办结 · The case is closed",
    unknown_rating_reason: "请选择列出的原因 · Choose one of the reasons shown",
    counter_busy: "正在办理中，请先办结、转移或过号 · Finish, transfer or mark the current ticket no-show first",
    wrong_ticket_state: "该号码当前不能这样操作 · That ticket cannot be handled this way now",
    other_hall: "该号码属于其他服务厅 · That ticket belongs to another hall",
    not_served: "本窗口不办理该业务 · This counter does not serve that service",
    no_transfer_target: "请选择转移到的业务、窗口或服务厅 · Choose where to transfer to",
    transfer_hall_mismatch: "所选窗口不在所选服务厅 · That counter is not in that hall",
    transfer_noop: "转移前后相同 · The transfer changes nothing",
    bad_score: "评价分数无效 · Not a valid score",
    rating_not_allowed: "评价时间已过 · The time to rate this service has passed",
    already_rated: "本次服务已评价 · This service was already rated",
    request_id_reused: "重复的请求 · The request was already used",
    hall_closed: "服务厅当前不取号 · The hall issues no tickets now",
    service_closed: "该业务今日已停止取号 · This service issues no more tickets today",
    slot_full: "该时段已约满 · That time is fully booked",
    outside_booking_window: "该时段不可预约 · That time cannot be booked",
    closed_day: "当日不办公 · The hall is closed that day",
    duplicate_booking: "您当日已有预约 · You already have a booking that day",
    booking_banned: "因多次爽约或取消，暂停预约 · Booking is suspended after repeated no-shows or cancellations",
    invalid_id_number: "纳税人识别号或身份证号码无效 · Not a valid taxpayer or ID number",
    invalid_phone: "手机号码无效 · Not a valid mobile number",
    invalid_name: "姓名无效 · Not a valid name",
    unknown_booking: "未找到预约 · No such booking",
    booking_cancelled: "该预约已取消 · The booking was cancelled",
    cancel_too_late: "已过取消截止时间 · Too late to cancel",
    too_early: "尚未到签到时间 · Check-in has not opened yet",
    too_late: "已过签到时间，请取普通号 · Check-in has closed; please take an ordinary ticket",
    remote_off: "本厅不提供线上取号，请到厅内取号 · This hall takes no remote tickets: take a number at the hall",
    remote_quota_full: "今日线上取号已满，请到厅内取号 · Today's remote tickets are all taken: take a number at the hall",
    remote_taken: "此手机今天已在本厅线上取号 · This phone already has a remote ticket of this hall today",
    wrong_hall: "预约的不是本服务厅 · The booking is for another hall",
    too_many_bookings: "预约过于频繁，请稍后再试 · Too many bookings; try again later",
    phone_code_required: "请先获取并填写短信验证码 · Get the text-message code and enter it first",
    wrong_phone_code: "验证码错误或已过期，请重新获取 · Wrong or expired code: get a new one",
    too_many_codes: "验证码发送过于频繁，请稍后再试 · Codes were sent too often; try again later",
    sms_unavailable: "短信服务暂不可用 · Text messages cannot be sent now",
    retry: "系统正在换日，请稍后重试 · Please try again in a moment",
    shutting_down: "系统正在停止 · The system is stopping",
    edge_gap: "大厅服务器的上传不连续 · The hall server's upload does not follow what is held",
    hall_elsewhere: "该服务厅由其本厅服务器管理，请在本厅操作 · This hall is run by its own server: do this there",
    upstream_unavailable: "与中心的网络中断，暂时无法办理，请稍后重试 · The link to the centre is down: try again when it is back",
    store_unavailable: "数据库暂时无法写入，请稍后重试 · The database is not taking changes just now; try again in a moment",
    standby: "此服务器为备机，请稍后重试 · This is the standby server; try again in a moment",
    internal: "系统内部错误，未做任何更改 · Internal error; nothing was changed",
  };

  /** The text to show for a failed call: the code's meaning, else the server's message. */
  function message(e) {
    if (!e || !Object.prototype.hasOwnProperty.call(MESSAGES, e.code)) return (e && e.message) || String(e);
    const d = e.detail || {};
    if (e.code === "counter_taken" && d.clerk) {
      return "该窗口已由 " + (d.clerk_name || "") + "（" + d.clerk + "）登录 · " + (d.clerk_name || d.clerk) + " is signed in at this counter";
    }
    if (d.retry_after_s) {
      const m = Math.ceil(d.retry_after_s / 60);
      return MESSAGES[e.code] + (d.retry_after_s >= 60 ? "（约 " + m + " 分钟后再试 · try again in about " + m + " min）" : "（请稍后再试 · try again shortly）");
    }
    return MESSAGES[e.code];
  }

  // ---------- the server's time ----------
  // Pages reckon in the server's time, never the phone's or PC's own clock (which may be off
  // by minutes or set to another day): `now()` is the device's clock plus an offset learnt
  // from every answer. An answer's `Date` header says the server's second when it was made,
  // somewhere between sending the request and getting the answer, so the offset lies in
  // [date − received, date + 1 s − sent]; an answer's own `at`/`now` narrows it to the
  // millisecond. The intervals of all answers are intersected; one that does not overlap
  // (a clock was set) starts afresh.
  const clockSync = { lo: -Infinity, hi: Infinity, offset: 0 };

  function learnOffset(lo, hi) {
    if (!(lo <= hi)) return;
    if (lo > clockSync.hi || hi < clockSync.lo) {
      clockSync.lo = lo;
      clockSync.hi = hi;
    } else {
      clockSync.lo = Math.max(clockSync.lo, lo);
      clockSync.hi = Math.min(clockSync.hi, hi);
    }
    clockSync.offset = Math.round((clockSync.lo + clockSync.hi) / 2);
  }

  /** Learn the server's time from an answer that was asked at `sent` and came at `got` (device ms). */
  function learnFrom(resp, data, sent, got) {
    const date = Date.parse(resp.headers.get("Date") || "");
    if (!isNaN(date)) learnOffset(date - got, date + 1000 - sent);
    const at = data && typeof data === "object" && !Array.isArray(data) ? Date.parse(data.at || data.now || "") : NaN;
    if (!isNaN(at)) learnOffset(at - got, at - sent);
  }

  /** The server's time now, in ms since the epoch: the one clock every page decides by. */
  function now() {
    return Date.now() + clockSync.offset;
  }

  const dayFormats = {};
  /** The server's date today (`YYYY-MM-DD`) in a time zone (the hall's). */
  function today(tz) {
    const key = tz || "";
    if (!dayFormats[key]) dayFormats[key] = new Intl.DateTimeFormat("en-GB", { timeZone: tz || undefined, year: "numeric", month: "2-digit", day: "2-digit" });
    const p = {};
    for (const x of dayFormats[key].formatToParts(now())) p[x.type] = x.value;
    return p.year + "-" + p.month + "-" + p.day;
  }

  /** Call the JSON API. Resolves with the parsed body; rejects with ApiError. */
  async function api(method, path, opts = {}) {
    const headers = {};
    if (opts.token) headers["Authorization"] = "Bearer " + opts.token;
    let body;
    if (opts.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    let resp;
    const sent = Date.now();
    try {
      resp = await fetch(path, { method, headers, body, cache: "no-store" });
    } catch (e) {
      throw new ApiError(0, "network", "无法连接服务器 · Cannot reach the server");
    }
    const got = Date.now();
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    learnFrom(resp, data, sent, got);
    if (!resp.ok) {
      const err = data && data.error ? data.error : { code: "http_" + resp.status, message: text || resp.statusText };
      throw new ApiError(resp.status, err.code, err.message, err);
    }
    return data;
  }

  /**
   * Follow a hall's event stream (`hall` null: every hall's, for staff). `onMessage(msg)` gets the snapshot and
   * every event; `onStatus(connected)` reports the connection. Reconnects with `?since=` so nothing is missed.
   * With `token` (a device's or a signed-in person's) the stream is staff's: its own places, and what staff see.
   * A browser cannot send a header with a WebSocket: the token goes as a subprotocol.
   */
  function stream(hall, onMessage, onStatus, token) {
    let since = null;
    let delay = 500;
    let ws = null;
    let stopped = false;
    function open() {
      if (stopped) return;
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const q = since === null ? "" : "?since=" + since;
      const path = hall === null ? "/api/v1/events" : "/api/v1/halls/" + encodeURIComponent(hall) + "/events";
      const url = proto + "//" + location.host + path + q;
      ws = token ? new WebSocket(url, ["qcall", "qcall.bearer." + token]) : new WebSocket(url);
      ws.onopen = () => { delay = 500; if (onStatus) onStatus(true); };
      ws.onmessage = (ev) => {
        let msg;
        try { msg = JSON.parse(ev.data); } catch (e) { return; }
        if (typeof msg.seq === "number") since = msg.seq;
        onMessage(msg);
      };
      ws.onclose = () => {
        if (onStatus) onStatus(false);
        if (stopped) return;
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 10000);
      };
      ws.onerror = () => { try { ws.close(); } catch (e) { /* closing anyway */ } };
    }
    open();
    return { stop() { stopped = true; if (ws) ws.close(); } };
  }

  /** "mm:ss", or "h:mm:ss" past an hour. */
  function duration(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const r = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return h > 0 ? h + ":" + two(m) + ":" + two(r) : two(m) + ":" + two(r);
  }

  /** Create an element: el("li", {class: "x", dataset: {id: 1}}, child, "text"). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k === "dataset") Object.assign(e.dataset, v);
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else if (v === true) e.setAttribute(k, "");
      else e.setAttribute(k, v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  /** Find the hall a counter belongs to in `GET /api/v1/halls`. */
  function hallOfCounter(halls, counter) {
    for (const h of halls.halls) {
      const c = h.counters.find((x) => x.id === counter);
      if (c) return { hall: h, counter: c };
    }
    return null;
  }

  /**
   * What a new ticket of a service (hall state or an event's queues) would wait, [zh, en]:
   * "约 15–25 分钟" (the estimate's range), "约 8 分钟", "少于 5 分钟", "暂无窗口办理".
   */
  function waitText(s) {
    if (s.unstaffed) return ["暂无窗口办理", "no counter open yet"];
    if (s.est_wait_s < 300) return ["少于 5 分钟", "under 5 min"];
    if (s.est_wait_range_s) {
      const a = Math.floor(s.est_wait_range_s[0] / 60), b = Math.ceil(s.est_wait_range_s[1] / 60);
      return ["约 " + a + "–" + b + " 分钟", "about " + a + "–" + b + " min"];
    }
    const m = Math.ceil(s.est_wait_s / 60);
    return ["约 " + m + " 分钟", "about " + m + " min"];
  }

  /** Counter id this event is about (a call, finish, transfer away, pause …), if any. */
  function eventCounter(msg) {
    return msg.counter || msg.from_counter || null;
  }

  return { ApiError, MESSAGES, message, api, stream, duration, el, hallOfCounter, eventCounter, now, today, waitText };
})();
