// The duty leader's overview: every hall live (the event stream of all halls; each event
// fetches the overview again), counters with their clerk, ticket and time, pauses and why,
// devices, and the publicity of each hall TV. Signed in as a supervisor; the session token
// stays in this tab.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  const SESSION_KEY = "qcall.supervisor";
  const S = { session: null, ov: null, stream: null, pending: null, dirty: {}, closing: null };

  const STATE = { open: "服务中", paused: "暂停", closed: "关闭" };
  const STATE_EN = { open: "Open", paused: "Paused", closed: "Closed" };
  const LEVEL = { 1: "非常不满意", 2: "不满意", 3: "基本满意", 4: "满意", 5: "非常满意" };

  /** A time of day in the halls' time zone (not the browser's). */
  function clock(t) {
    const tz = S.ov && S.ov.halls.length ? S.ov.halls[0].hall.time_zone : undefined;
    return new Date(t).toLocaleTimeString("zh-CN", { hour12: false, timeZone: tz || undefined });
  }
  function since(iso) { return (Q.now() - Date.parse(iso)) / 1000; }
  function minutes(s) { return s < 60 ? "<1 分钟" : Math.round(s / 60) + " 分钟"; }

  function say(text, kind) {
    const n = $("notice");
    n.textContent = text;
    n.className = "notice " + (kind || "");
  }

  function showLogin() {
    S.session = null;
    sessionStorage.removeItem(SESSION_KEY);
    if (S.stream) { S.stream.stop(); S.stream = null; }
    $("overview-view").hidden = true;
    for (const id of ["who", "btn-logout", "link-state", "server-clock", "to-reports"]) $(id).hidden = true;
    $("login-view").hidden = false;
    $("login-id").focus();
  }

  async function signIn(ev) {
    ev.preventDefault();
    $("login-error").textContent = "";
    try {
      const r = await Q.api("POST", "/api/v1/supervisor-sessions", {
        body: { supervisor: $("login-id").value.trim(), password: $("login-password").value },
      });
      $("login-password").value = "";
      sessionStorage.setItem(SESSION_KEY, JSON.stringify({ token: r.token, supervisor: r.supervisor, name: r.name }));
      start(JSON.parse(sessionStorage.getItem(SESSION_KEY)));
    } catch (e) {
      $("login-error").textContent = Q.message(e);
    }
  }

  async function signOut() {
    const token = S.session && S.session.token;
    showLogin();
    if (token) {
      try { await Q.api("DELETE", "/api/v1/supervisor-sessions", { token }); } catch (e) { /* gone already */ }
    }
  }

  function start(session) {
    S.session = session;
    $("login-view").hidden = true;
    $("overview-view").hidden = false;
    $("who").textContent = session.name + " · " + session.supervisor;
    for (const id of ["who", "btn-logout", "server-clock", "to-reports"]) $(id).hidden = false;
    load();
    S.stream = Q.stream(null, (msg) => {
      if (msg.type === "alert_raised") chime();
      schedule();
    }, (up) => {
      const b = $("link-state");
      b.hidden = false;
      b.className = "badge " + (up ? "open" : "closed");
      b.textContent = up ? "实时 · Live" : "连接中断 · Reconnecting";
      if (up) schedule();
    }, session.token);
  }

  /** Every event fetches the overview again, at most every 150 ms. */
  function schedule() {
    if (S.pending) return;
    S.pending = setTimeout(() => { S.pending = null; load(); }, 150);
  }

  async function load() {
    if (!S.session) return;
    try {
      const [ov, alerts, cases] = await Promise.all([
        Q.api("GET", "/api/v1/overview", { token: S.session.token }),
        Q.api("GET", "/api/v1/alerts?state=active", { token: S.session.token }),
        Q.api("GET", "/api/v1/cases?state=open", { token: S.session.token }),
      ]);
      S.cases = cases.cases;
      S.ov = ov;
      S.alerts = alerts.alerts;
      render();
    } catch (e) {
      if (e.status === 401) { showLogin(); $("login-error").textContent = Q.message(e); return; }
      say(Q.message(e), "error");
    }
  }

  function serviceName(hall, id) {
    const s = hall.services.find((x) => x.id === id);
    return s ? s.prefix + " " + s.name_zh : id;
  }

  function ratingBar(h) {
    const total = Object.values(h.ratings_today).reduce((a, b) => a + b, 0);
    const bad = (h.ratings_today["1"] || 0) + (h.ratings_today["2"] || 0);
    return Q.el("div", { class: "ratings" },
      Q.el("div", { class: "k" }, "今日评价 ", Q.el("span", { class: "en" }, "ratings today"), " ", Q.el("b", {}, String(total)),
        bad > 0 ? Q.el("span", { class: "bad-count" }, " 差评 " + bad) : null),
      Q.el("div", { class: "levels" }, [5, 4, 3, 2, 1].map((n) =>
        Q.el("span", { class: "level l" + n, title: LEVEL[n], dataset: { level: n } }, n + "★ " + (h.ratings_today[String(n)] || 0)))));
  }

  function counterRow(h, c) {
    const clerk = h.clerks[c.id];
    const cur = c.current;
    let what = "—";
    let time = null;
    if (c.state === "paused") {
      what = Q.el("span", { class: "reason" }, c.pause_reason || "—");
      time = c.paused_since;
    } else if (cur) {
      what = Q.el("b", { class: "number" }, cur.number);
      time = cur.called_at;
    }
    const actions = Q.el("div", { class: "row-actions" });
    // A hall run by its own server is acted on there (its duty leader's page), not here.
    if (h.hall.link) { /* no actions */ } else if (c.state === "open") actions.append(Q.el("button", { class: "btn small", type: "button", onclick: () => openPause(c) }, "暂停"));
    if (!h.hall.link && c.state === "paused") actions.append(Q.el("button", { class: "btn small go", type: "button", onclick: () => act(c.id, "resume") }, "恢复"));
    if (!h.hall.link && c.state === "closed" && (h.can_open[c.id] || []).length) {
      actions.append(Q.el("button", { class: "btn small go", type: "button", dataset: { open: c.id }, onclick: () => openCounter(h, c) }, "开启"));
    }
    if (!h.hall.link && c.state !== "closed") {
      const confirming = S.closing === c.id;
      actions.append(Q.el("button", { class: "btn small" + (confirming ? " danger" : ""), type: "button", dataset: { close: c.id },
        onclick: () => closeCounter(c.id) }, confirming ? "确认关闭?" : "关闭"));
    }
    // Opened by the duty leader for a clerk who has not signed in at the console yet.
    const waiting = c.state === "open" && clerk && !clerk.signed_in;
    const badge = waiting
      ? Q.el("span", { class: "badge waiting-sign-in", title: "Opened: waiting for the clerk to sign in" }, "已开启·待登录")
      : Q.el("span", { class: "badge " + c.state, title: STATE_EN[c.state] }, STATE[c.state] || c.state);
    return Q.el("tr", { class: "counter " + c.state + (waiting ? " waiting-sign-in" : ""), dataset: { counter: c.id } },
      Q.el("td", { class: "num" }, c.number + "号"),
      Q.el("td", {}, badge),
      Q.el("td", { class: "clerk" }, clerk ? clerk.name || clerk.id : "—"),
      Q.el("td", { class: "what" }, what),
      Q.el("td", { class: "dur" }, time ? Q.el("span", { class: "since", dataset: { since: time } }, Q.duration(since(time))) : "—"),
      Q.el("td", {}, actions));
  }

  function deviceRow(d) {
    const st = d.status;
    // A hall's own server reports no device status: seen (it uploads and beats), it is online.
    let cls = !st ? (d.online ? "ok" : "unknown") : st.ok ? (st.code ? "warn" : "ok") : "fault";
    let text = !st ? (d.online ? "在线 · online" : "未报告 · no report yet") : st.ok && !st.code ? "正常 · OK" : st.message || st.code;
    if (d.online === false) {
      cls = "fault offline";
      text = "离线 · offline" + (d.last_seen ? "（最后在线 " + clock(d.last_seen) + "）" : "");
    }
    return Q.el("li", { class: "device " + cls, dataset: { device: d.device } },
      Q.el("span", { class: "dot" }), Q.el("b", { title: d.device }, d.name || d.device), " ",
      Q.el("span", { class: "state" }, text),
      d.last_seen || st ? Q.el("span", { class: "muted at" }, " · " + clock(d.last_seen || st.at)) : null);
  }

  function deviceFine(d) { return d.online !== false && (!d.status || (d.status.ok && !d.status.code)); }

  /** Rating pads that are fine, in one line (a pad in trouble gets a row of its own). */
  function padsLine(h) {
    const pads = h.devices.filter((d) => d.kind === "pad" && deviceFine(d));
    if (pads.length === 0) return null;
    return Q.el("div", { class: "pads muted" }, "评价器 ", Q.el("span", { class: "en" }, "rating pads"), " ",
      pads.map((d) => Q.el("span", { class: "pad " + (d.status ? "ok" : "unknown"), title: d.status ? "正常 · OK" : "未报告 · no report yet" },
        d.device.replace(/^pad-/, ""))));
  }

  function hallCard(h) {
    const hall = h.hall;
    const longest = Math.max(0, ...Object.values(h.longest_wait_s));
    const services = Q.el("table", { class: "services" },
      Q.el("thead", {}, Q.el("tr", {}, ["业务", "等候", "最长等候", "新号预计", "窗口"].map((t) => Q.el("th", {}, t)))),
      Q.el("tbody", {}, hall.services.map((s) => Q.el("tr", { dataset: { service: s.id } },
        Q.el("td", {}, s.prefix + " " + s.name_zh),
        Q.el("td", { class: "waiting" }, String(s.waiting)),
        Q.el("td", {}, h.longest_wait_s[s.id] ? minutes(h.longest_wait_s[s.id]) : "—"),
        s.closed_until ? Q.el("td", {}, s.full ? "号源已满" : "停止取号")
          : s.unstaffed ? Q.el("td", { class: "unstaffed", title: "No counter serving it is open" }, "暂无窗口办理")
          : Q.el("td", { class: "est" }, Q.waitText(s)[0]),
        Q.el("td", {}, String(s.open_counters))))));
    const counters = Q.el("table", { class: "counters" },
      Q.el("thead", {}, Q.el("tr", {}, ["窗口", "状态", "工作人员", "号码 / 原因", "用时", ""].map((t) => Q.el("th", {}, t)))),
      Q.el("tbody", {}, hall.counters.map((c) => counterRow(h, c))));
    const cut = hall.link && !hall.link.online;
    return Q.el("section", { class: "panel hall-card" + (cut ? " cut" : ""), dataset: { hall: hall.id } },
      Q.el("h2", {}, hall.name_zh, " ", Q.el("span", { class: "en" }, hall.name_en)),
      linkLine(hall.link),
      Q.el("div", { class: "figures" },
        figure("等候", "waiting", h.waiting, "hall-waiting"),
        figure("最长等候", "longest wait", longest ? minutes(longest) : "—"),
        figure("今日办结", "served", h.served_today),
        figure("过号", "no-shows", h.no_shows_today)),
      ratingBar(h),
      whatIfLine(h),
      phoneLine(h),
      services,
      counters,
      Q.el("ul", { class: "devices" }, h.devices.filter((d) => d.kind !== "pad" || !deviceFine(d)).map(deviceRow)),
      padsLine(h));
  }

  /** At a hall's own server: its link to the core and what it has not yet forwarded. */
  function upstreamLine(u) {
    const p = $("upstream");
    p.hidden = !u;
    if (!u) return;
    const waiting = u.pending > 0;
    p.className = "notice" + (u.last_error ? " error" : "");
    p.replaceChildren(
      u.last_error ? "与中心断开 · no link to the core" : "与中心连接正常 · linked to the core",
      " · ",
      waiting
        ? Q.el("span", { id: "upstream-pending" }, "未上传 " + u.pending + " 条" + (u.oldest_pending_at ? "，最早 " + clock(u.oldest_pending_at) : "") +
            " · " + u.pending + " events not yet forwarded" + (u.oldest_pending_at ? " (oldest " + clock(u.oldest_pending_at) + ")" : ""))
        : Q.el("span", { id: "upstream-pending" }, "已全部上传 · everything forwarded"),
      u.config_pending ? " · 中心配置已更新，重启本厅服务器后生效 · the core's config changed: applied at this server's next start" : "");
  }

  /** A hall run by its own server: online, or cut off (断网) with its figures as of then. */
  function linkLine(link) {
    if (!link) return null;
    if (link.online) return Q.el("p", { class: "link-line online" }, "本厅服务器在线 · hall server online");
    if (!link.since) return Q.el("p", { class: "link-line cut" }, "本厅服务器尚未连接 · not heard from yet");
    return Q.el("p", { class: "link-line cut" },
      Q.el("b", {}, "断网"), " 自 ", Q.el("span", { class: "cut-since" }, clock(link.since)),
      " · 以下为断网时数据 · cut off since " + clock(link.since) + ": figures as of then");
  }

  /** While the queue is long: the counter to open and what it would change (forked). */
  function whatIfLine(h) {
    const w = h.what_if;
    if (!w) return null;
    const c = h.hall.counters.find((x) => x.id === w.counter);
    const open = c && (h.can_open[c.id] || []).length
      ? Q.el("button", { class: "btn small go", type: "button", onclick: () => openCounter(h, c) }, "开启")
      : null;
    return Q.el("div", { class: "what-if", dataset: { counter: w.counter } },
      Q.el("b", {}, "应急窗口 "), Q.el("span", { class: "text" }, w.text), " ", open);
  }

  /** 线上取号 and text messages today, where the hall has them. */
  function phoneLine(h) {
    const r = h.remote || {}, x = h.texts || {};
    const parts = [];
    if (h.hall.remote_left !== undefined && h.hall.remote_left !== null) {
      parts.push(Q.el("span", { class: "remote" }, "线上取号：未签到 ", Q.el("b", { class: "remote-away" }, String(r.away || 0)),
        " · 保留中 ", Q.el("b", { class: "remote-held" + (r.held ? " warn" : "") }, String(r.held || 0)),
        " · 已签到 ", Q.el("b", { class: "remote-in" }, String(r.checked_in || 0)),
        " · 过号 ", Q.el("b", {}, String(r.lapsed || 0))));
    }
    if (h.hall.ticket_texts) {
      parts.push(Q.el("span", { class: "texts" }, "短信：已发 ", Q.el("b", { class: "texts-sent" }, String(x.sent || 0)),
        " · 失败 ", Q.el("b", { class: "texts-failed" + (x.failed ? " warn" : "") }, String(x.failed || 0))));
    }
    return parts.length ? Q.el("p", { class: "phone-line", dataset: { hall: h.hall.id } }, ...parts.flatMap((p, i) => i ? ["　", p] : [p])) : null;
  }

  function figure(zh, en, value, cls) {
    return Q.el("div", { class: "figure " + (cls || "") }, Q.el("div", { class: "v" }, String(value)),
      Q.el("div", { class: "k" }, zh, " ", Q.el("span", { class: "en" }, en)));
  }

  const KIND = {
    long_wait: "等候过长 · long wait", long_queue: "排队过长 · long queue", long_pause: "暂停过长 · long pause",
    device_fault: "设备故障 · device fault", device_offline: "设备离线 · device offline", bad_rating: "差评 · bad rating",
    calendar_missing: "节假日 · holidays",
    sms_failing: "短信 · text messages",
    streams_full: "实时连接 · live connections",
    hall_cut: "断网 · hall cut off",
    edge_conflict: "数据冲突 · conflict",
  };

  function hallName(id) {
    if (!id) return "全部服务厅";
    const h = S.ov && S.ov.halls.find((x) => x.hall.id === id);
    return h ? h.hall.name_zh : id;
  }

  /** Most urgent first: people waiting, then devices and ratings, then the rest. */
  const SEVERITY = ["hall_cut", "long_queue", "long_wait", "device_fault", "bad_rating", "device_offline", "long_pause", "sms_failing", "streams_full", "edge_conflict", "calendar_missing"];
  const rank = (kind) => { const i = SEVERITY.indexOf(kind); return i < 0 ? SEVERITY.length : i; };

  /** Alerts as one line per hall and kind, most severe first (newest message shown). */
  function groups(list) {
    const by = new Map();
    for (const a of list) {
      const key = a.hall + "|" + a.kind;
      if (!by.has(key)) by.set(key, []);
      by.get(key).push(a);
    }
    return [...by.values()]
      .map((as) => as.sort((x, y) => y.id - x.id))
      .sort((x, y) => rank(x[0].kind) - rank(y[0].kind) || (x[0].hall || "").localeCompare(y[0].hall || ""));
  }

  /** The 开启 button of a long-queue alert: its suggested counter, while it is still closed. */
  function openButton(a) {
    if (a.kind !== "long_queue" || !a.counter || !S.ov) return null;
    const h = S.ov.halls.find((x) => x.hall.id === a.hall);
    const c = h && h.hall.counters.find((x) => x.id === a.counter);
    if (!c || c.state !== "closed" || !(h.can_open[c.id] || []).length) return null;
    return Q.el("button", { class: "btn small go", type: "button", dataset: { openFromAlert: c.id }, onclick: () => openCounter(h, c) }, "开启 " + c.number + "号 · Open");
  }

  function alertLine(as, acked) {
    const a = as[0];
    return Q.el("li", { class: "alert " + a.kind + (acked ? " acked" : ""), dataset: { alert: a.id, kind: a.kind, hall: a.hall } },
      Q.el("div", { class: "what" },
        Q.el("span", { class: "kind" }, KIND[a.kind] || a.kind), " ",
        Q.el("b", {}, hallName(a.hall)), as.length > 1 ? Q.el("span", { class: "times" }, " ×" + as.length) : null, " ", a.message,
        a.advice ? Q.el("span", { class: "advice" }, " " + a.advice) : null),
      Q.el("span", { class: "muted at" }, clock(a.raised_at)),
      acked
        ? Q.el("span", { class: "muted" }, "已确认 " + (a.acked_by || ""))
        : Q.el("span", { class: "row-actions" }, openButton(a),
          Q.el("button", { class: "btn small", type: "button", dataset: { ack: a.id }, onclick: () => ack(as.map((x) => x.id)) }, "确认 · Acknowledge")));
  }

  function renderAlerts() {
    const list = S.alerts || [];
    const open = groups(list.filter((a) => !a.acked_at));
    const handling = groups(list.filter((a) => a.acked_at));
    $("alerts").replaceChildren(...open.map((g) => alertLine(g, false)));
    // Acknowledged but not resolved: kept, folded away (处理中), until the condition ends.
    $("alerts-handling").hidden = handling.length === 0;
    $("handling-count").textContent = String(handling.length);
    $("alerts-handling-list").replaceChildren(...handling.map((g) => alertLine(g, true)));
    $("alert-count").textContent = String(open.length);
    $("alert-count").className = "count" + (open.length ? " some" : "");
    $("no-alerts").hidden = open.length > 0 || handling.length > 0;
    document.title = (open.length ? "(" + open.length + ") " : "") + "值班领导 · Duty leader — qcall";
  }

  /** Acknowledges every alert of a line. */
  async function ack(ids) {
    try {
      for (const id of ids) await Q.api("POST", "/api/v1/alerts/" + id + "/ack", { token: S.session.token });
      say("已确认，处理中 · Acknowledged: being dealt with", "ok");
    } catch (e) {
      if (e.status === 401) { showLogin(); return; }
      say(Q.message(e), "error");
    }
    load();
  }

  /** A short two-note chime for a new alert (after sign-in the page may play sound). */
  function chime() {
    try {
      const ctx = S.audio || (S.audio = new (window.AudioContext || window.webkitAudioContext)());
      [880, 660].forEach((f, i) => {
        const o = ctx.createOscillator();
        const g = ctx.createGain();
        o.frequency.value = f;
        g.gain.setValueAtTime(0.15, ctx.currentTime + i * 0.18);
        g.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + i * 0.18 + 0.16);
        o.connect(g).connect(ctx.destination);
        o.start(ctx.currentTime + i * 0.18);
        o.stop(ctx.currentTime + i * 0.18 + 0.17);
      });
      S.chimes = (S.chimes || 0) + 1;
      document.body.dataset.chimes = String(S.chimes);
    } catch (e) { /* no audio here */ }
  }

  const NOTE = { callback: "回访", rectification: "整改", appeal: "申诉", appeal_outcome: "复核", note: "备注" };

  function renderCases() {
    const list = S.cases || [];
    $("cases").replaceChildren(
      Q.el("thead", {}, Q.el("tr", {}, ["号码", "大厅", "窗口", "工作人员", "评价", "原因", "期限", ""].map((t) => Q.el("th", {}, t)))),
      Q.el("tbody", {}, list.map((c) => Q.el("tr", { class: c.overdue ? "overdue" : "", dataset: { case: c.id } },
        Q.el("td", {}, Q.el("b", {}, c.number)),
        Q.el("td", {}, hallName(c.hall)),
        Q.el("td", {}, c.counter),
        Q.el("td", {}, c.clerk_name || c.clerk || "—"),
        Q.el("td", { class: "score" }, c.score + "★ " + LEVEL[c.score]),
        Q.el("td", {}, c.reasons.length ? c.reasons.join("、") : "—"),
        Q.el("td", {}, c.deadline, c.overdue ? Q.el("span", { class: "badge closed overdue-badge" }, "已超期 · overdue") : null),
        Q.el("td", {}, Q.el("button", { class: "btn small primary", type: "button", dataset: { handle: c.id }, onclick: () => openCase(c.id) }, "处理 · Handle"))))));
    $("case-count").textContent = String(list.length);
    $("case-count").className = "count" + (list.some((c) => c.overdue) ? " some" : "");
    $("no-cases").hidden = list.length > 0;
    $("cases").hidden = list.length === 0;
    if (S.caseOpen) {
      const c = list.find((x) => x.id === S.caseOpen);
      if (c) fillCase(c);
    }
  }

  function fillCase(c) {
    $("case-title").textContent = c.number + " · " + hallName(c.hall) + " " + c.counter;
    const fact = (k, v) => [Q.el("dt", {}, k), Q.el("dd", {}, v)];
    $("case-facts").replaceChildren(...[
      fact("评价 · score", c.score + "★ " + LEVEL[c.score]),
      fact("原因 · reasons", c.reasons.length ? c.reasons.join("、") : "未选择 · none given"),
      fact("工作人员 · clerk", (c.clerk_name || "") + " " + (c.clerk || "")),
      fact("业务 · service", c.service),
      fact("评价时间 · rated", clock(c.rated_at) + " " + c.day),
      fact("办结期限 · deadline", c.deadline + (c.overdue ? "（已超期 · overdue）" : "")),
    ].flat());
    $("case-notes").replaceChildren(...c.notes.map((n) => Q.el("li", {},
      Q.el("b", {}, NOTE[n.kind] || n.kind), " ", n.text, " ", Q.el("span", { class: "muted" }, "— " + n.by + " " + clock(n.at)))));
  }

  function openCase(id) {
    const c = (S.cases || []).find((x) => x.id === id);
    if (!c) return;
    S.caseOpen = id;
    $("case-text").value = "";
    $("case-summary").value = "";
    $("case-error").textContent = "";
    fillCase(c);
    $("case-dialog").showModal();
  }

  async function caseAction(path, body) {
    const id = S.caseOpen;
    try {
      await Q.api("POST", "/api/v1/cases/" + id + "/" + path, { token: S.session.token, body });
      $("case-error").textContent = "";
      if (path === "notes") $("case-text").value = "";
      if (path === "close") {
        $("case-dialog").close();
        S.caseOpen = null;
        say("工单已办结 · Case closed", "ok");
      }
      load();
    } catch (e) {
      if (e.status === 401) { showLogin(); return; }
      $("case-error").textContent = Q.message(e);
    }
  }

  $("case-cancel").addEventListener("click", () => { $("case-dialog").close(); S.caseOpen = null; });
  $("case-add").addEventListener("click", () => {
    if (!$("case-text").value.trim()) {
      $("case-error").textContent = "请先填写记录内容 · Write the record first";
      $("case-text").focus();
      return;
    }
    caseAction("notes", { kind: $("case-kind").value, text: $("case-text").value });
  });
  $("case-close").addEventListener("click", () => {
    if (!$("case-summary").value.trim()) {
      $("case-error").textContent = "请填写办结说明 · Write the closing summary first";
      $("case-summary").focus();
      return;
    }
    caseAction("close", { summary: $("case-summary").value });
  });

  async function exportRatings() {
    const from = $("export-from").value;
    const to = $("export-to").value || from;
    if (!from) { say("请选择日期 · Choose the days", "error"); return; }
    const r = await fetch("/api/v1/reports/ratings?format=csv&from=" + from + "&to=" + to, {
      headers: { Authorization: "Bearer " + S.session.token }, cache: "no-store",
    });
    if (!r.ok) { say("导出失败 · export failed (" + r.status + ")", "error"); return; }
    const url = URL.createObjectURL(await r.blob());
    const a = Q.el("a", { href: url, download: "ratings-" + from + "-" + to + ".csv" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }
  $("export-ratings").addEventListener("click", exportRatings);

  function render() {
    const ov = S.ov;
    const missing = $("calendar-missing");
    missing.hidden = !ov.calendar_missing;
    missing.textContent = ov.calendar_missing
      ? ov.calendar_missing + " 节假日安排未配置：请在配置 [calendar] 中加入 " + ov.calendar_missing + " 年节假日和调休，否则节假日照常开厅取号 · The " + ov.calendar_missing + " holidays are not configured: the halls would open on them"
      : "";
    upstreamLine(ov.upstream);
    renderAlerts();
    renderCases();
    if (!$("export-from").value && ov.halls.length) $("export-from").value = $("export-to").value = ov.halls[0].hall.day;
    $("halls").replaceChildren(...ov.halls.map(hallCard));
    renderPublicity();
    tick();
  }

  function renderPublicity() {
    const box = $("pub-halls");
    for (const h of S.ov.halls) {
      const id = h.hall.id;
      let card = box.querySelector("[data-hall='" + id + "']");
      if (!card) {
        const edited = () => { S.dirty[id] = true; preview(id); };
        const area = Q.el("textarea", { id: "pub-" + id, rows: 4, maxlength: 2000, oninput: edited, onchange: edited,
          // Once touched, the lines are the editor's until published, or left as they were.
          onfocus: () => { S.dirty[id] = true; },
          onblur: () => {
            const h = S.ov.halls.find((x) => x.hall.id === id);
            if (h && lines(id).join("\n") === h.hall.publicity.join("\n")) S.dirty[id] = false;
          } });
        card = Q.el("div", { class: "pub-hall", dataset: { hall: id } },
          Q.el("label", { for: "pub-" + id }, h.hall.name_zh + " ", Q.el("span", { class: "en" }, "one line per message")),
          area,
          Q.el("div", { class: "ticker-preview", id: "pub-preview-" + id }),
          Q.el("button", { class: "btn small primary", type: "button", id: "pub-save-" + id, onclick: () => savePublicity(id) }, "保存并发布 · Publish"));
        box.append(card);
      }
      // Live changes never overwrite lines being edited.
      if (!S.dirty[id] && document.activeElement !== $("pub-" + id)) {
        $("pub-" + id).value = h.hall.publicity.join("\n");
        preview(id);
      }
    }
  }

  function lines(id) {
    return $("pub-" + id).value.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  }

  function preview(id) {
    $("pub-preview-" + id).textContent = lines(id).join("　　◆　　") || "（无 · none）";
  }

  async function savePublicity(id) {
    try {
      await Q.api("PUT", "/api/v1/halls/" + encodeURIComponent(id) + "/publicity", { token: S.session.token, body: { messages: lines(id) } });
      S.dirty[id] = false;
      say("已发布到大厅屏 · Published to the hall TVs", "ok");
      load();
    } catch (e) {
      if (e.status === 401) { showLogin(); return; }
      say(Q.message(e), "error");
    }
  }

  /** Durations and the clock move every second between events. */
  function tick() {
    for (const e of document.querySelectorAll(".since[data-since]")) e.textContent = Q.duration(since(e.dataset.since));
    if (S.ov) {
      $("server-clock").textContent = clock(Q.now());
    }
  }

  async function act(counter, action, body) {
    try {
      await Q.api("POST", "/api/v1/counters/" + encodeURIComponent(counter) + "/" + action, { token: S.session.token, body });
      say(counter + " · " + { pause: "已暂停 · paused", resume: "已恢复 · resumed", close: "已关闭 · closed" }[action], "ok");
    } catch (e) {
      if (e.status === 401) { showLogin(); return; }
      say(Q.message(e), "error");
    }
    load();
  }

  function closeCounter(id) {
    if (S.closing !== id) {
      S.closing = id;
      render();
      setTimeout(() => { if (S.closing === id) { S.closing = null; render(); } }, 4000);
      return;
    }
    S.closing = null;
    act(id, "close");
  }

  function openCounter(h, c) {
    $("open-counter").textContent = c.number + "号 " + c.id;
    $("open-dialog").dataset.counter = c.id;
    $("open-clerk").replaceChildren(...h.can_open[c.id].map((k) => Q.el("option", { value: k.id }, k.name + " · " + k.id)));
    $("open-error").textContent = "";
    $("open-dialog").showModal();
  }
  $("open-cancel").addEventListener("click", () => $("open-dialog").close());
  $("open-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const counter = $("open-dialog").dataset.counter;
    try {
      await Q.api("POST", "/api/v1/counters/" + encodeURIComponent(counter) + "/open", { token: S.session.token, body: { clerk: $("open-clerk").value } });
      $("open-dialog").close();
      say(counter + " · 已开启 · opened", "ok");
      load();
    } catch (e) {
      if (e.status === 401) { showLogin(); return; }
      $("open-error").textContent = Q.message(e);
    }
  });

  function openPause(c) {
    $("pause-counter").textContent = c.number + "号 " + c.id;
    $("pause-dialog").dataset.counter = c.id;
    const box = $("pause-reasons");
    box.replaceChildren();
    S.ov.pause_reasons.forEach((r, i) => {
      const id = "pause-reason-" + i;
      box.append(Q.el("label", { class: "reason", for: id }, Q.el("input", { type: "radio", name: "pause-reason", id, value: r }), " " + r));
    });
    $("pause-error").textContent = "";
    $("pause-dialog").showModal();
  }

  $("pause-cancel").addEventListener("click", () => $("pause-dialog").close());
  $("pause-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const chosen = document.querySelector("input[name=pause-reason]:checked");
    if (!chosen) { $("pause-error").textContent = "请选择暂停原因 · Choose a reason"; return; }
    $("pause-dialog").close();
    act($("pause-dialog").dataset.counter, "pause", { reason: chosen.value });
  });
  $("login-form").addEventListener("submit", signIn);
  $("btn-logout").addEventListener("click", signOut);
  setInterval(tick, 1000);

  const saved = sessionStorage.getItem(SESSION_KEY);
  if (saved) start(JSON.parse(saved)); else showLogin();
})();
