// The public booking page: /book (hall → service → day → slot → details → confirmation).
// Chinese first, with an English switch; all times shown in the hall's time zone. The texts
// are in book-text.js (loaded before); "my bookings" and /book/{code} (show or cancel one
// booking) in book-mine.js (loaded after), which takes what it needs from `QBook` here.
"use strict";

(() => {
  const QB = (window.QBook = window.QBook || {});
  const { t, en, ZH_WD, EN_WD, EN_MON } = QB;
  const $ = (id) => document.getElementById(id);
  const LANG_KEY = "qcall.book.lang";
  const LAST_KEY = "qcall.book.last";
  const PHONE_RE = /^1[3-9]\d{9}$/;
  const ID_RE = /^[0-9A-Z]{18}$/;
  const DEFAULT_TZ = "Asia/Shanghai";
  /** Seconds between quiet reloads of the slot list (bookable changes as time passes). */
  const SLOT_REFRESH_S = 60;
  /** The first day's slots (fetched with the day list) are reused if this fresh. */
  const FIRST_FRESH_MS = 20000;

  const S = {
    halls: null, // HallInfo[]
    hall: null, // chosen HallInfo
    service: null, // chosen ServiceInfo
    days: null, // bookable days of the chosen service
    firstSlots: null, // SlotsResponse of the first bookable day (with the day list)
    firstAt: 0,
    date: null, // chosen day
    slots: null, // SlotsResponse of the chosen day
    slot: null, // chosen SlotInfo
    step: null,
    seq: 0, // guards against late answers of slot requests
    pending: null, // slot_changed events that came while slots were loading
    stream: null,
    streamTok: null,
    live: null, // live connection up?
    reqKey: null, // the body the request id belongs to
    reqId: null,
    submitting: false,
    booking: null, // booking shown (confirmation or view)
    viewCode: null,
    viewPhone: null,
    askCancel: false,
    cancelling: false,
    notice: null,
    cancelTimer: null,
    errs: {}, // element id → error (ApiError, text key or function)
  };

  // ---------- storage (may be unavailable in private modes) ----------

  function getStore(store, key) {
    try { return store.getItem(key); } catch (e) { return null; }
  }
  function setStore(store, key, value) {
    try { store.setItem(key, value); } catch (e) { /* not kept: fine */ }
  }

  // ---------- language ----------

  function applyLang() {
    document.documentElement.lang = en() ? "en" : "zh-CN";
    const b = $("lang");
    b.textContent = en() ? "中文" : "English";
    b.lang = en() ? "zh-CN" : "en";
    b.setAttribute("aria-label", en() ? "切换到中文" : "Switch to English");
    for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
    rerender();
  }

  // 大字版: larger type everywhere on the page, kept on this phone.
  const LARGE_KEY = "qcall.book.large";
  function applyLarge(on) {
    document.documentElement.classList.toggle("large", on);
    $("large").setAttribute("aria-pressed", on ? "true" : "false");
  }
  applyLarge(getStore(localStorage, LARGE_KEY) === "1");
  $("large").addEventListener("click", () => {
    const on = !document.documentElement.classList.contains("large");
    setStore(localStorage, LARGE_KEY, on ? "1" : "0");
    applyLarge(on);
  });

  $("lang").addEventListener("click", () => {
    QB.setLang(en() ? "zh" : "en");
    setStore(localStorage, LANG_KEY, QB.lang());
    applyLang();
  });

  /** Everything that depends on the language or the data, for what is on screen. */
  function rerender() {
    if (S.halls) renderHalls();
    if (S.hall) renderServices();
    if (S.days) renderDays();
    if (S.slots && S.step === "slot") renderSlots();
    renderPicked();
    renderLive();
    if (S.slot) renderSummary();
    $("book-submit").textContent = t(S.submitting ? "submitting" : "submit");
    if (S.step === "confirm" && S.booking) renderConfirm();
    if (S.step === "view" && S.booking) QB.renderView(); // book-mine.js
    for (const id of Object.keys(S.errs)) $(id).textContent = errText(S.errs[id]);
  }

  // ---------- names, time zones, dates ----------

  const hallById = (id) => (S.halls || []).find((h) => h.id === id) || null;
  const hallName = (h) => (h ? (en() ? h.name_en || h.name_zh : h.name_zh || h.name_en) : "");
  const serviceName = (s) => (s ? (en() ? s.name_en || s.name_zh : s.name_zh || s.name_en) : "");
  function serviceOf(hallId, serviceId) {
    const h = hallById(hallId);
    return (h && h.services.find((s) => s.id === serviceId)) || null;
  }

  const tzOk = {};
  function validTz(tz) {
    if (!tz) return false;
    if (!(tz in tzOk)) {
      try { new Intl.DateTimeFormat("en-GB", { timeZone: tz }); tzOk[tz] = true; } catch (e) { tzOk[tz] = false; }
    }
    return tzOk[tz];
  }
  function tzOfHall(h) {
    if (h && validTz(h.time_zone)) return h.time_zone;
    return validTz(DEFAULT_TZ) ? DEFAULT_TZ : undefined;
  }
  /** The time zone of what is being looked at: the booking's hall, else the chosen hall. */
  function currentTz() {
    if (S.booking && (S.step === "confirm" || S.step === "view")) return tzOfHall(hallById(S.booking.hall));
    return tzOfHall(S.hall);
  }

  const fmts = {};
  /** Local date `YYYY-MM-DD` and time `HH:MM` of a UTC instant in the time zone. */
  function local(iso, tz) {
    const key = tz || "";
    if (!fmts[key]) {
      fmts[key] = new Intl.DateTimeFormat("en-GB", {
        timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
      });
    }
    const d = new Date(iso);
    if (isNaN(d.getTime())) return { date: "", time: "" };
    const p = {};
    for (const x of fmts[key].formatToParts(d)) p[x.type] = x.value;
    const hour = p.hour === "24" ? "00" : p.hour;
    return { date: p.year + "-" + p.month + "-" + p.day, time: hour + ":" + p.minute };
  }
  const fmtTime = (iso, tz) => local(iso, tz === undefined ? currentTz() : tz).time;
  function fmtDateTime(iso, tz) {
    const l = local(iso, tz === undefined ? currentTz() : tz);
    return fmtDay(l.date) + " " + l.time;
  }

  function parseDay(d) {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(d || "");
    return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])) : null;
  }
  /** "12月1日 周二" / "Tue 1 Dec". */
  function fmtDay(d) {
    const x = parseDay(d);
    if (!x) return d || "";
    const wd = x.getUTCDay();
    return en()
      ? EN_WD[wd] + " " + x.getUTCDate() + " " + EN_MON[x.getUTCMonth()]
      : (x.getUTCMonth() + 1) + "月" + x.getUTCDate() + "日 " + ZH_WD[wd];
  }
  function addDays(d, n) {
    const x = parseDay(d);
    if (!x) return "";
    x.setUTCDate(x.getUTCDate() + n);
    return x.toISOString().slice(0, 10);
  }
  function span(fromIso, untilIso) {
    const tz = currentTz();
    return fmtTime(fromIso, tz) + "–" + fmtTime(untilIso, tz);
  }

  // ---------- errors ----------

  function apiText(e) {
    const d = e.detail || {};
    const at = d.at ? fmtDateTime(d.at) : null;
    switch (e.code) {
      case "slot_full":
        return en() ? "That time has just been fully booked. Please choose another time." : "该时段已约满，请选择其他时段。";
      case "outside_booking_window":
        return en()
          ? "That time cannot be booked now (too soon, already past, or too far ahead). Please choose again."
          : "该时段当前不可预约（时间太近、已过或超出可预约范围），请重新选择。";
      case "closed_day":
        return en() ? "The hall is closed that day. Please choose another day." : "服务厅当天不办公，请选择其他日期。";
      case "duplicate_booking":
        return en()
          ? "You already have a booking for this service that day, or as many bookings that day as allowed."
          : "您当天已预约过该业务，或当天的预约数已达上限。";
      case "booking_banned":
        return en()
          ? "Because of repeated no-shows or cancellations this month, you cannot book " + (at ? "until " + at : "for a while") + "."
          : "因本月多次未到或取消预约，" + (at ? at + " 前" : "暂时") + "不能预约。";
      case "too_many_bookings": {
        const m = d.retry_after_s ? Math.ceil(d.retry_after_s / 60) : null;
        return en()
          ? "Too many bookings from this network. Please try again " + (m ? "in about " + m + " min." : "later.")
          : "预约过于频繁，请" + (m ? "约 " + m + " 分钟后" : "稍后") + "再试。";
      }
      case "invalid_name":
        return en() ? "That name is not valid; please enter your real name." : "姓名无效，请填写真实姓名。";
      case "invalid_phone":
        return en() ? "That mobile number is not valid." : "手机号码无效，请核对。";
      case "phone_code_required":
        return t("v_code");
      case "wrong_phone_code":
        return en() ? "The code is wrong or has expired: check it, or get a new one." : "验证码错误或已过期，请核对或重新获取。";
      case "too_many_codes": {
        const m = d.retry_after_s ? Math.ceil(d.retry_after_s / 60) : null;
        return en()
          ? "Codes were sent too often. Please try again " + (m ? "in about " + m + " min." : "later.")
          : "验证码获取过于频繁，请" + (m ? "约 " + m + " 分钟后" : "稍后") + "再试。";
      }
      case "sms_unavailable":
        return en() ? "Text messages cannot be sent just now. Please try later, or book at the hall." : "短信暂时无法发送，请稍后再试，或到服务厅办理。";
      case "invalid_id_number":
        return en() ? "That taxpayer or ID number is not valid; please check it." : "纳税人识别号或身份证号码无效，请核对。";
      case "unknown_booking":
        return en() ? "No booking found: please check the code and the mobile number." : "未找到预约，请核对预约码和手机号码。";
      case "booking_cancelled":
        return en() ? "This booking is already cancelled." : "该预约已取消。";
      case "cancel_too_late": {
        const until = (S.booking && S.booking.cancel_until) || d.at;
        return en()
          ? "It is too late to cancel" + (until ? " (cancelling closed at " + fmtDateTime(until) + ")" : "") + "."
          : "已过取消截止时间" + (until ? "（" + fmtDateTime(until) + "）" : "") + "，不能再取消。";
      }
      default:
        return Q.message(e);
    }
  }

  function errText(err) {
    if (!err) return "";
    if (typeof err === "string") return t(err);
    if (typeof err === "function") return err();
    return apiText(err);
  }
  function setErr(id, err) {
    S.errs[id] = err;
    $(id).textContent = errText(err);
  }
  function clearErr(id) {
    delete S.errs[id];
    $(id).textContent = "";
  }

  // ---------- steps ----------

  const STEPS = ["hall", "service", "day", "slot", "form"];
  const SECTIONS = { hall: "step-hall", service: "step-service", day: "step-day", slot: "step-slot", form: "step-form", confirm: "confirm", view: "view", mine: "step-mine" };

  function show(step, focus) {
    S.step = step;
    $("loading").hidden = true;
    for (const [k, id] of Object.entries(SECTIONS)) $(id).hidden = k !== step;
    const ix = STEPS.indexOf(step);
    $("steps").hidden = ix < 0;
    for (const li of $("steps").children) {
      const i = Number(li.dataset.ix);
      li.classList.toggle("done", i < ix);
      li.classList.toggle("current", i === ix);
      if (i === ix) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    }
    document.body.dataset.step = step;
    if (step !== "slot") stopStream();
    renderPicked();
    window.scrollTo(0, 0);
    if (focus) {
      const h = $(SECTIONS[step]).querySelector("h2");
      if (h) h.focus({ preventScroll: true });
    }
  }

  function loadingEl() {
    return Q.el("p", { class: "book-loading" }, t("loading"));
  }

  /** The choices made so far, above each step. */
  function renderPicked() {
    const parts = [];
    if (S.hall) parts.push(hallName(S.hall));
    $("picked-service").textContent = parts.join(" · ");
    if (S.service) parts.push(serviceName(S.service));
    $("picked-day").textContent = parts.join(" · ");
    if (S.date) parts.push(fmtDay(S.date));
    $("picked-slot").textContent = parts.join(" · ");
  }

  // ---------- 1 hall ----------

  async function loadHalls() {
    const r = await Q.api("GET", "/api/v1/halls");
    S.halls = (r && r.halls) || [];
    // 线上取号 (today's queue, on its own page) where a hall offers it.
    $("remote-open").hidden = !S.halls.some((h) => h.remote_left !== undefined && h.remote_left !== null);
    if (S.hall) S.hall = hallById(S.hall.id);
    return S.halls;
  }

  function renderHalls() {
    const list = $("hall-list");
    if (!S.halls.length) {
      list.replaceChildren(Q.el("p", { class: "empty" }, t("no_halls")));
      return;
    }
    list.replaceChildren(...S.halls.map((h) => Q.el("button", {
      type: "button",
      class: "choice hall-choice" + (S.hall && S.hall.id === h.id ? " selected" : ""),
      dataset: { hall: h.id },
      onclick: () => pickHall(h.id),
    },
    Q.el("span", { class: "choice-main" }, hallName(h)),
    h.address ? Q.el("span", { class: "choice-sub" }, h.address) : null,
    h.hours && h.hours.length
      ? Q.el("span", { class: "choice-sub" }, t("hours") + " " + h.hours.map((x) => x.replace("-", "–")).join("  "))
      : null)));
  }

  function pickHall(id, focus = true) {
    const h = hallById(id);
    if (!h) return;
    if (!S.hall || S.hall.id !== h.id) {
      stopStream();
      S.service = null;
      S.days = null;
      S.date = null;
      S.slots = null;
      S.firstSlots = null;
      S.slot = null;
    }
    S.hall = h;
    renderHalls();
    renderServices();
    show("service", focus);
  }

  async function startBooking() {
    $("hall-retry").hidden = true;
    clearErr("hall-error");
    $("loading").hidden = false;
    try {
      await loadHalls();
    } catch (e) {
      show("hall");
      $("hall-list").replaceChildren();
      setErr("hall-error", e);
      $("hall-retry").hidden = false;
      return;
    }
    renderHalls();
    // `?hall=&service=` (a link from the hall's site or poster) skips the first steps.
    const p = new URLSearchParams(location.search);
    const h = p.get("hall") && hallById(p.get("hall"));
    if (h) {
      pickHall(h.id, false);
      const s = p.get("service") && h.services.find((x) => x.id === p.get("service"));
      if (s) pickService(s.id, false);
      return;
    }
    show("hall");
  }
  $("hall-retry").addEventListener("click", startBooking);

  // ---------- 2 service ----------

  function renderServices() {
    const list = $("service-list");
    const services = S.hall ? S.hall.services || [] : [];
    if (!services.length) {
      list.replaceChildren(Q.el("p", { class: "empty" }, t("no_services")));
      return;
    }
    list.replaceChildren(...services.map((s) => Q.el("button", {
      type: "button",
      class: "choice service-choice" + (S.service && S.service.id === s.id ? " selected" : ""),
      dataset: { service: s.id },
      onclick: () => pickService(s.id),
    },
    Q.el("span", { class: "prefix", "aria-hidden": "true" }, s.prefix || ""),
    Q.el("span", { class: "choice-main" }, serviceName(s)))));
  }

  function pickService(id, focus = true) {
    const s = S.hall && S.hall.services.find((x) => x.id === id);
    if (!s) return;
    if (!S.service || S.service.id !== s.id) {
      S.date = null;
      S.slot = null;
      S.slots = null;
    }
    S.service = s;
    renderServices();
    loadDays(focus);
  }

  $("back-service").addEventListener("click", () => show("hall", true));

  // ---------- 3 day ----------

  function slotsUrl(date) {
    let u = "/api/v1/appointments/slots?hall=" + encodeURIComponent(S.hall.id) + "&service=" + encodeURIComponent(S.service.id);
    if (date) u += "&date=" + encodeURIComponent(date);
    return u;
  }

  /** Which slots are closed for a reason other than being full (too soon, past). */
  function prepSlots(r) {
    const now = Q.now();
    for (const s of r.slots || []) s.blocked = !s.bookable && (s.free > 0 || Date.parse(s.start) <= now);
    r.slots = r.slots || [];
    return r;
  }

  async function loadDays(focus) {
    S.days = null;
    S.firstSlots = null;
    clearErr("day-error");
    show("day", focus);
    $("day-list").replaceChildren(loadingEl());
    const seq = ++S.seq;
    try {
      const r = await Q.api("GET", slotsUrl(null));
      if (seq !== S.seq) return;
      S.days = r.bookable_days || [];
      if (r.date && r.service === S.service.id) {
        S.firstSlots = prepSlots(r);
        S.firstAt = Q.now();
      }
      renderDays();
    } catch (e) {
      if (seq !== S.seq) return;
      setErr("day-error", e);
      $("day-list").replaceChildren(Q.el("button", { type: "button", class: "btn retry", onclick: () => loadDays(false) }, t("retry")));
    }
  }

  function renderDays() {
    const list = $("day-list");
    if (!S.days.length) {
      list.replaceChildren(Q.el("p", { class: "empty" }, t("no_days")));
      return;
    }
    const today = Q.today(tzOfHall(S.hall));
    const tomorrow = addDays(today, 1);
    list.replaceChildren(...S.days.map((d) => {
      const tag = d === today ? t("today") : d === tomorrow ? t("tomorrow") : null;
      return Q.el("button", {
        type: "button",
        class: "choice day-choice" + (S.date === d ? " selected" : ""),
        dataset: { date: d },
        onclick: () => pickDay(d),
      }, Q.el("span", { class: "choice-main" }, fmtDay(d)), tag ? Q.el("span", { class: "choice-sub" }, tag) : null);
    }));
  }

  function pickDay(date) {
    if (S.date !== date) S.slot = null;
    S.date = date;
    S.slots = null;
    if (S.firstSlots && S.firstSlots.date === date && S.firstSlots.service === S.service.id && Q.now() - S.firstAt < FIRST_FRESH_MS) {
      S.slots = S.firstSlots;
    }
    clearErr("slot-error");
    S.live = null;
    show("slot", true);
    $("slot-note").hidden = true;
    if (S.slots) renderSlots();
    else $("slot-list").replaceChildren(loadingEl());
    startStream();
    if (!S.slots) loadSlots(false);
  }

  $("back-day").addEventListener("click", () => {
    renderServices();
    show("service", true);
  });

  // ---------- 4 slot ----------

  async function loadSlots(quiet) {
    if (!S.hall || !S.service || !S.date) return;
    const date = S.date;
    const seq = ++S.seq;
    if (!S.pending) S.pending = [];
    if (!quiet) $("slot-list").replaceChildren(loadingEl());
    try {
      const r = prepSlots(await Q.api("GET", slotsUrl(date)));
      if (seq !== S.seq) return;
      if (S.date !== date || S.step !== "slot") {
        S.pending = null;
        return;
      }
      const pending = S.pending || [];
      S.pending = null;
      S.slots = r;
      // Events that came while loading: in order, so the newest wins.
      for (const m of pending) applySlotChange(m, false);
      if (r.bookable_days) S.days = r.bookable_days;
      clearErr("slot-error");
      renderSlots();
    } catch (e) {
      if (seq !== S.seq) return;
      S.pending = null;
      setErr("slot-error", e);
      if (!quiet || !S.slots) {
        $("slot-list").replaceChildren(Q.el("button", { type: "button", class: "btn retry", onclick: () => loadSlots(false) }, t("retry")));
      }
    }
  }

  function renderSlots() {
    const r = S.slots;
    const note = $("slot-note");
    let text = "";
    if (!r.open_day) text = t("closed_day");
    else if (!r.slots.some((s) => s.bookable)) text = t("no_slots");
    note.textContent = text;
    note.hidden = !text;
    $("slot-list").replaceChildren(...r.slots.map((s) => {
      const b = Q.el("button", { type: "button", class: "choice slot-choice", dataset: { start: s.start_local }, onclick: () => pickSlot(s.start_local) });
      fillSlot(b, s);
      return b;
    }));
  }

  function fillSlot(b, s) {
    b.disabled = !s.bookable;
    b.classList.toggle("full", s.free === 0);
    b.classList.toggle("few", s.bookable && s.free <= Math.max(1, Math.floor(s.capacity / 4)));
    b.classList.toggle("selected", !!(S.slot && S.slot.start_local === s.start_local));
    const status = s.free === 0 ? t("slot_full") : !s.bookable ? t("slot_closed") : null;
    b.replaceChildren(
      Q.el("span", { class: "slot-time" }, s.start_local + "–" + s.end_local),
      Q.el("span", { class: "slot-left" }, t("slot_left_pre"), Q.el("span", { class: "slot-free" }, String(s.free)), t("slot_left_post")),
    );
    if (status) b.append(Q.el("span", { class: "slot-status" }, status));
  }

  /** A `slot_changed` event: new free count of one slot. */
  function applySlotChange(m, dom) {
    const r = S.slots;
    if (!r || !S.hall || (m.hall && m.hall !== S.hall.id)) return;
    if (m.service !== r.service || m.date !== r.date) return;
    const at = Date.parse(m.start);
    const s = r.slots.find((x) => Date.parse(x.start) === at);
    if (!s) return;
    if (typeof m.free === "number") s.free = m.free;
    if (typeof m.capacity === "number") s.capacity = m.capacity;
    s.bookable = s.free > 0 && !s.blocked;
    if (!dom) return;
    for (const b of $("slot-list").querySelectorAll(".slot-choice")) {
      if (b.dataset.start === s.start_local) fillSlot(b, s);
    }
    const note = $("slot-note");
    const text = !r.open_day ? t("closed_day") : !r.slots.some((x) => x.bookable) ? t("no_slots") : "";
    note.textContent = text;
    note.hidden = !text;
  }

  function onStreamMessage(msg) {
    if (!msg || msg.type !== "slot_changed") return;
    if (S.pending) S.pending.push(msg);
    if (S.step === "slot") applySlotChange(msg, true);
  }

  function startStream() {
    stopStream();
    if (!S.hall) return;
    const tok = {};
    S.streamTok = tok;
    S.live = null;
    renderLive();
    S.stream = Q.stream(S.hall.id, (msg) => { if (S.streamTok === tok) onStreamMessage(msg); }, (up) => {
      if (S.streamTok !== tok) return;
      S.live = up;
      renderLive();
      // Whatever changed before (re)connecting came with no event to us: reload.
      if (up) loadSlots(true);
    });
  }

  function stopStream() {
    S.streamTok = null;
    S.pending = null;
    if (S.stream) {
      S.stream.stop();
      S.stream = null;
    }
    S.live = null;
    renderLive();
  }

  function renderLive() {
    const e = $("slot-live");
    e.textContent = S.live === true ? t("live_on") : S.live === false ? t("live_off") : "";
    e.classList.toggle("up", S.live === true);
    e.classList.toggle("down", S.live === false);
  }

  setInterval(() => {
    if (S.step === "slot" && !document.hidden) loadSlots(true);
  }, SLOT_REFRESH_S * 1000);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && S.step === "slot") loadSlots(true);
  });

  function pickSlot(start) {
    const s = S.slots && S.slots.slots.find((x) => x.start_local === start);
    if (!s || !s.bookable) return;
    S.slot = s;
    clearErr("book-error");
    $("book-rechoose").hidden = true;
    renderSummary();
    show("form", true);
  }

  $("back-slot").addEventListener("click", () => {
    if (S.days) renderDays();
    show("day", true);
  });

  // ---------- 5 details ----------

  function fact(key, value, id) {
    return Q.el("div", { class: "fact", id }, Q.el("dt", {}, t(key)), Q.el("dd", {}, value));
  }

  function renderSummary() {
    if (!S.hall || !S.service || !S.slot) return;
    $("form-summary").replaceChildren(
      fact("k_hall", hallName(S.hall)),
      fact("k_service", serviceName(S.service)),
      fact("k_date", fmtDay(S.date)),
      fact("k_time", S.slot.start_local + "–" + S.slot.end_local),
    );
  }

  const FIELDS = {
    name: { input: "book-name", err: "err-name" },
    phone: { input: "book-phone", err: "err-phone" },
    code: { input: "book-code", err: "err-code" },
    id: { input: "book-id", err: "err-id" },
  };

  function cleanPhone(v) {
    return v.replace(/[\s-]/g, "");
  }
  function values() {
    return {
      name: $("book-name").value.trim().replace(/\s+/g, " "),
      phone: cleanPhone($("book-phone").value),
      code: $("book-code").value.replace(/\s/g, ""),
      id: $("book-id").value.replace(/\s/g, "").toUpperCase(),
    };
  }
  /** The client-side check of one field: an error key, or null. */
  function check(field, v) {
    if (field === "name") return !v.name ? "v_name_empty" : [...v.name].length > 50 ? "v_name_long" : null;
    if (field === "phone") return PHONE_RE.test(v.phone) ? null : "v_phone";
    if (field === "code") return /^[0-9]{6}$/.test(v.code) ? null : "v_code";
    return ID_RE.test(v.id) ? null : "v_id";
  }
  function fieldError(field, err) {
    const f = FIELDS[field];
    if (err) {
      setErr(f.err, err);
      $(f.input).setAttribute("aria-invalid", "true");
    } else {
      clearErr(f.err);
      $(f.input).removeAttribute("aria-invalid");
    }
  }

  for (const field of Object.keys(FIELDS)) {
    const input = $(FIELDS[field].input);
    input.addEventListener("input", () => { if (S.errs[FIELDS[field].err]) fieldError(field, null); });
    input.addEventListener("blur", () => {
      if (input.value.trim()) fieldError(field, check(field, values()));
    });
  }

  // The one-time code: sent to the phone typed above; the button waits out the resend time.
  let codeTimer = null;
  function codeButton(wait) {
    const b = $("send-code");
    clearInterval(codeTimer);
    let left = wait;
    const tick = () => {
      b.disabled = left > 0;
      b.textContent = left > 0 ? t("resend_in", left) : t("send_code");
      left -= 1;
      if (left < 0) clearInterval(codeTimer);
    };
    tick();
    if (wait > 0) codeTimer = setInterval(tick, 1000);
  }
  $("send-code").addEventListener("click", async () => {
    const v = values();
    const err = check("phone", v);
    fieldError("phone", err);
    if (err) { $("book-phone").focus(); return; }
    const b = $("send-code");
    b.disabled = true;
    b.textContent = t("sending_code");
    fieldError("code", null);
    try {
      const r = await Q.api("POST", "/api/v1/appointments/phone-code", { body: { phone: v.phone } });
      $("hint-code").textContent = t("code_sent", r.phone);
      codeButton(r.resend_after_s || 60);
      $("book-code").focus();
    } catch (e) {
      codeButton(e.code === "too_many_codes" && e.detail && e.detail.retry_after_s ? Math.min(e.detail.retry_after_s, 3600) : 0);
      fieldError("code", e);
    }
  });

  function newRequestId() {
    const a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.from(a, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  function setSubmitting(on) {
    S.submitting = on;
    const b = $("book-submit");
    b.disabled = on;
    b.textContent = t(on ? "submitting" : "submit");
  }

  $("book-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (S.submitting || !S.slot) return;
    clearErr("book-error");
    $("book-rechoose").hidden = true;
    const v = values();
    let first = null;
    for (const field of Object.keys(FIELDS)) {
      const err = check(field, v);
      fieldError(field, err);
      if (err && !first) first = field;
    }
    if (first) {
      $(FIELDS[first].input).focus();
      return;
    }
    const body = {
      hall: S.hall.id, service: S.service.id, date: S.date, start: S.slot.start_local,
      name: v.name, phone: v.phone, id_number: v.id,
    };
    // Not part of the retry key: a new code for the same booking is the same request.
    // The same request id for a retry of the same booking: the server answers with it again.
    const key = JSON.stringify(body);
    if (key !== S.reqKey || !S.reqId) {
      S.reqKey = key;
      S.reqId = newRequestId();
    }
    body.request_id = S.reqId;
    body.phone_code = v.code;
    setSubmitting(true);
    try {
      const b = await Q.api("POST", "/api/v1/appointments", { body });
      S.reqKey = null;
      S.reqId = null;
      setStore(sessionStorage, LAST_KEY, JSON.stringify({ code: b.code, phone: v.phone }));
      S.booking = b;
      for (const f of Object.values(FIELDS)) $(f.input).value = "";
      codeButton(0);
      $("hint-code").textContent = t("f_code_hint");
      // The booking's own address in the address bar: a reload or a bookmark finds it again.
      try { history.replaceState(null, "", "/book/" + encodeURIComponent(b.code)); } catch (x) { /* stays at /book */ }
      S.viewCode = b.code;
      S.viewPhone = v.phone;
      show("confirm", true);
      renderConfirm();
    } catch (e) {
      // Answered: a new attempt gets a new id. Not reached or failed inside: retry with this one.
      if (e.status && e.status < 500 && e.status !== 429) {
        S.reqKey = null;
        S.reqId = null;
      }
      const field = {
        invalid_name: "name", invalid_phone: "phone", invalid_id_number: "id",
        phone_code_required: "code", wrong_phone_code: "code",
      }[e.code];
      if (field) {
        fieldError(field, e);
        $(FIELDS[field].input).focus();
      } else {
        setErr("book-error", e);
        if (["slot_full", "outside_booking_window", "closed_day"].includes(e.code)) {
          if (e.code === "slot_full") {
            S.slot.free = 0;
            S.slot.bookable = false;
          }
          $("book-rechoose").hidden = false;
        }
      }
    } finally {
      setSubmitting(false);
    }
  });

  $("book-rechoose").addEventListener("click", () => {
    if (S.date) pickDay(S.date);
  });

  $("back-form").addEventListener("click", () => {
    if (!S.date) return show("day", true);
    pickDay(S.date);
  });

  // ---------- confirmation ----------

  function qrSrc(code) {
    return "/book/qr/" + encodeURIComponent(code) + ".svg";
  }

  /** The facts of a booking, shared by the confirmation and the view. */
  function bookingFacts(b, withPerson) {
    const h = hallById(b.hall);
    const svc = serviceOf(b.hall, b.service);
    const out = [
      fact("k_hall", h ? hallName(h) : b.hall),
      h && h.address ? fact("k_address", h.address) : null,
      fact("k_service", svc ? serviceName(svc) : b.service),
      fact("k_date", fmtDay(b.date)),
      fact("k_time", span(b.slot.start, b.slot.end)),
    ];
    return out.concat(withPerson ? [fact("k_name", b.name), fact("k_phone", b.phone), fact("f_id_short", b.id_number)] : []).filter(Boolean);
  }

  function renderConfirm() {
    const b = S.booking;
    $("confirm-code").textContent = b.code;
    const qr = $("confirm-qr");
    if (qr.getAttribute("src") !== qrSrc(b.code)) qr.src = qrSrc(b.code);
    qr.alt = t("qr_alt", b.code);
    $("confirm-facts").replaceChildren(
      ...bookingFacts(b, true),
      fact("k_check_in", span(b.check_in_from, b.check_in_until), "confirm-window"),
      fact("k_cancel_until", fmtDateTime(b.cancel_until), "confirm-cancel-until"),
    );
    const link = $("confirm-link");
    link.href = "/book/" + encodeURIComponent(b.code);
    link.textContent = t("confirm_link");
    const h = hallById(b.hall);
    const base = (h && h.public_base_url ? h.public_base_url : location.origin).replace(/\/+$/, "");
    $("confirm-url").textContent = base + "/book/" + b.code;
  }

  $("confirm-again").addEventListener("click", () => {
    S.booking = null;
    S.slot = null;
    S.date = null;
    S.slots = null;
    S.days = null;
    S.firstSlots = null;
    S.service = null;
    if (S.halls) renderHalls();
    show("hall", true);
  });

  // ---------- shared with book-mine.js ----------

  Object.assign(QB, {
    S, PHONE_RE, ID_RE, LAST_KEY, getStore, setStore,
    hallById, serviceOf, hallName, serviceName, fmtDay, fmtDateTime, span,
    setErr, clearErr, show, loadHalls, fact, cleanPhone, qrSrc, bookingFacts,
  });

  // ---------- start ----------

  QB.setLang(getStore(localStorage, LANG_KEY) === "en" ? "en" : "zh");
  applyLang();
  // `/book/{code}` shows one booking: book-mine.js, loaded next, starts that (`QB.startCode`).
  const m = /^\/book\/([^/]+)\/?$/.exec(location.pathname);
  if (m) {
    let code = m[1];
    try { code = decodeURIComponent(code); } catch (e) { /* shown as it is */ }
    QB.startCode = code.trim();
  } else {
    QB.startCode = null;
    startBooking();
  }
})();
