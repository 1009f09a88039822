// The clerk console (/counter): sign in, call and serve tickets, live from the hall's stream.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const SESSION_KEY = "qcall.counter.session";
  const LAST_COUNTER_KEY = "qcall.counter.last";

  const S = {
    session: null, // SessionResponse
    halls: null, // HallsResponse
    queue: null, // CounterQueue
    busy: false,
    stream: null,
    refreshTimer: null,
    devices: new Map(), // device id -> DeviceStatus, of this hall
  };

  function serviceName(id) {
    if (S.halls) {
      for (const h of S.halls.halls) {
        const s = h.services.find((x) => x.id === id);
        if (s) return s.name_zh + " " + s.name_en;
      }
    }
    return id;
  }

  function hallName(id) {
    const h = S.halls && S.halls.halls.find((x) => x.id === id);
    return h ? h.name_zh : id;
  }

  function say(text, kind) {
    const m = $("message");
    m.textContent = text || "";
    m.className = "message" + (kind ? " " + kind : "");
  }

  // ---------- sign in ----------

  async function loadHalls() {
    S.halls = await Q.api("GET", "/api/v1/halls");
  }

  function fillCounterSelect() {
    const sel = $("login-counter");
    sel.replaceChildren();
    const wanted = new URLSearchParams(location.search).get("counter") || localStorage.getItem(LAST_COUNTER_KEY);
    for (const h of S.halls.halls) {
      const g = Q.el("optgroup", { label: h.name_zh + " " + h.name_en });
      for (const c of h.counters) {
        // The hall in every option: a closed select shows only the chosen one, without its group.
        g.append(Q.el("option", { value: c.id, selected: c.id === wanted }, h.name_zh.replace(/办税服务厅$/, "") + " · " + c.number + " 号窗口 · " + c.id));
      }
      sel.append(g);
    }
  }

  function showLogin(message) {
    S.session = null;
    sessionStorage.removeItem(SESSION_KEY);
    if (S.stream) { S.stream.stop(); S.stream = null; }
    for (const id of ["who-hall", "who-counter", "who-clerk", "counter-state", "served-box", "btn-logout"]) $(id).hidden = true;
    $("console-view").hidden = true;
    $("device-notices").hidden = true;
    S.devices = new Map();
    $("login-view").hidden = false;
    $("login-error").textContent = message || "";
    $("login-pin").value = "";
    ($("login-clerk").value ? $("login-pin") : $("login-clerk")).focus();
  }

  async function signIn(takeOver) {
    $("login-error").textContent = "";
    $("login-takeover").hidden = true;
    $("login-submit").disabled = true;
    try {
      const body = { clerk: $("login-clerk").value.trim(), pin: $("login-pin").value, counter: $("login-counter").value };
      if (takeOver) body.take_over = true;
      const session = await Q.api("POST", "/api/v1/sessions", { body });
      sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
      localStorage.setItem(LAST_COUNTER_KEY, session.counter);
      await startConsole(session);
    } catch (e) {
      $("login-error").textContent = Q.message(e);
      if (e.code === "counter_not_allowed" && e.detail.hall && S.halls) {
        // Say why: the counter belongs to a hall the clerk does not work in.
        const hall = S.halls.halls.find((h) => h.id === e.detail.hall);
        if (hall) $("login-error").textContent = "您不属于" + hall.name_zh + "，请选择本厅窗口 · You do not work in " + hall.name_en + ": choose a counter of your hall";
      }
      if (e.code === "counter_taken") {
        // Someone else is at this counter: say who, and offer to take it over.
        $("login-takeover").hidden = false;
      } else {
        $("login-pin").value = "";
        $("login-pin").focus();
      }
    } finally {
      $("login-submit").disabled = false;
    }
  }

  $("login-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    signIn(false);
  });
  $("login-takeover").addEventListener("click", () => signIn(true));
  $("login-counter").addEventListener("change", () => { $("login-takeover").hidden = true; });

  $("btn-logout").addEventListener("click", async () => {
    const token = S.session && S.session.token;
    if (token) {
      try { await Q.api("DELETE", "/api/v1/sessions", { token }); } catch (e) { /* signed out locally anyway */ }
    }
    showLogin("已退出 · Signed out");
  });

  // ---------- console ----------

  async function startConsole(session) {
    S.session = session;
    S.listKey = null;
    $("login-view").hidden = true;
    $("console-view").hidden = false;
    $("who-hall").textContent = hallName(session.hall);
    $("who-counter").replaceChildren(Q.el("b", {}, session.counter_number + " 号窗口"), " " + session.counter);
    $("who-clerk").textContent = session.clerk_name + " · " + session.clerk;
    for (const id of ["who-hall", "who-counter", "who-clerk", "counter-state", "served-box", "btn-logout"]) $(id).hidden = false;
    say("");
    await refresh();
    if (!S.session) return; // refresh found the session gone
    S.stream = Q.stream(session.hall, onEvent, (up) => {
      if (!up) say("与服务器的实时连接中断，正在重连… · Live connection lost, reconnecting…", "err");
      else if ($("message").textContent.startsWith("与服务器")) say("");
    }, session.token);
  }

  const KINDS = { kiosk: "取号机 Kiosk", display: "大屏 Display", pad: "评价器 Rating pad" };

  /** The hall's devices that need a hand (a kiosk's printer out of or low on paper, a display
   * without sound), above the console: staff see it where they work. */
  function renderDevices() {
    const box = $("device-notices");
    const items = [...S.devices.values()].filter((d) => !d.ok || d.code).sort((a, b) => a.device.localeCompare(b.device));
    box.replaceChildren(...items.map((d) => Q.el("li", { class: d.ok ? "warn" : "err" },
      Q.el("b", {}, (KINDS[d.kind] || d.kind) + " " + d.device), " ", d.message || d.code)));
    box.hidden = items.length === 0;
  }

  function onEvent(msg) {
    if (msg.type === "snapshot") {
      const hall = (msg.halls || []).find((h) => S.session && h.id === S.session.hall);
      if (hall) {
        S.devices = new Map((hall.devices || []).map((d) => [d.device, d]));
        renderDevices();
      }
    }
    if (msg.type === "device_status_changed") {
      if (msg.status && msg.status.device) S.devices.set(msg.status.device, msg.status);
      renderDevices();
      return;
    }
    if (msg.type === "publicity_updated") return;
    if (msg.type === "ticket_rated") {
      if (S.session && msg.counter === S.session.counter) refreshStats();
      return;
    }
    // Several events often come together (call + queue change): refresh once.
    clearTimeout(S.refreshTimer);
    S.refreshTimer = setTimeout(refresh, 80);
  }

  async function refresh() {
    if (!S.session) return;
    try {
      const q = await Q.api("GET", "/api/v1/counters/" + encodeURIComponent(S.session.counter) + "/queue", { token: S.session.token });
      S.queue = q;
      render();
    } catch (e) {
      handleError(e);
      return;
    }
    refreshStats();
  }

  /** This counter's figures of today (a clerk may read its own counter's statistics). */
  async function refreshStats() {
    if (!S.session) return;
    let v;
    try {
      v = await Q.api("GET", "/api/v1/stats/today", { token: S.session.token });
    } catch (e) {
      return; // the figures are a convenience; the queue shows errors
    }
    const row = v.counters.find((c) => c.counter === S.session.counter);
    if (!row) return;
    $("today-served").textContent = row.served;
    $("today-noshows").textContent = row.no_shows;
    $("today-wait").textContent = row.mean_wait_s === null ? "—" : Q.duration(row.mean_wait_s);
    $("today-service").textContent = row.mean_service_s === null ? "—" : Q.duration(row.mean_service_s);
    $("today-rating").textContent = row.mean_rating === null ? "—" : row.mean_rating.toFixed(1) + " · " + row.rated + " 条";
  }

  function handleError(e) {
    if (e.status === 401) {
      showLogin("登录已失效，请重新登录 · Your session ended; please sign in again");
    } else {
      say(Q.message(e), "err");
    }
  }

  /** The local start-end of an appointment's slot, e.g. "10:00-10:30". */
  function slotText(a) {
    const f = (iso) => new Date(iso).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", hour12: false, timeZone: S.timeZone || "Asia/Shanghai" });
    return f(a.start) + "-" + f(a.end);
  }

  function tags(t) {
    const out = [];
    if (t.priority === "priority") out.push(Q.el("span", { class: "tag prio" }, "绿色通道"));
    if (t.appointment) out.push(Q.el("span", { class: "tag appt", title: "预约 · appointment " + slotText(t.appointment) }, "预约 " + slotText(t.appointment)));
    if (t.to_this_counter) out.push(Q.el("span", { class: "tag direct" }, "转给本窗口"));
    else if (t.transferred) out.push(Q.el("span", { class: "tag xfer" }, "转入"));
    return out;
  }

  function render() {
    const q = S.queue;
    const c = q.counter;
    const state = $("counter-state");
    state.className = "badge " + c.state;
    state.textContent = ({ open: "服务中 · Open", paused: "暂停 · Paused", closed: "未登录 · Closed" }[c.state] || c.state)
      + (c.state === "paused" && c.pause_reason ? " · " + c.pause_reason : "");
    $("served-today").textContent = q.served_today;

    const cur = q.current;
    const num = $("current-number");
    if (cur) {
      num.textContent = cur.number;
      num.className = "number";
      $("current-service").replaceChildren(serviceName(cur.service), ...tags({ appointment: cur.appointment, priority: cur.priority }));
      $("current-waited").textContent = Q.duration((Date.parse(cur.called_at) - Date.parse(cur.issued_at)) / 1000);
      $("current-calls").textContent = cur.call_count;
    } else {
      num.textContent = "—";
      num.className = "number none";
      for (const id of ["current-service", "current-waited", "current-calls", "current-serving"]) $(id).textContent = "—";
    }

    const paused = c.state === "paused";
    const idle = !cur;
    $("btn-call-next").disabled = !idle || paused || q.waiting_total === 0;
    $("btn-recall").disabled = idle;
    $("btn-no-show").disabled = idle;
    $("btn-finish").disabled = idle;
    $("btn-finish-next").disabled = idle || paused;
    $("btn-transfer").disabled = idle;
    $("pause-zh").textContent = paused ? "恢复" : "暂停";
    $("pause-en").textContent = paused ? "Resume" : "Pause";
    $("btn-pause").className = "btn " + (paused ? "go" : "");

    // Rebuild the lists only when they changed, so a button does not vanish under a finger.
    const key = JSON.stringify([q.waiting, q.no_shows, q.waiting_total, idle, paused]);
    if (key !== S.listKey) {
      S.listKey = key;
      renderLists(q, idle, paused);
    }
    tick();
  }

  function renderLists(q, idle, paused) {
    const wl = $("waiting-list");
    wl.replaceChildren();
    $("waiting-count").textContent = q.waiting_total + " 人 · waiting";
    if (q.waiting.length === 0) wl.append(Q.el("li", { class: "empty" }, "暂无等候 · Nobody is waiting"));
    q.waiting.forEach((t, i) => {
      wl.append(Q.el("li", { class: i === 0 ? "next" : null, dataset: { id: t.id, number: t.number } },
        Q.el("span", { class: "num" }, t.number),
        Q.el("span", { class: "svc" }, serviceName(t.service), tags(t)),
        Q.el("span", { class: "age", dataset: { since: t.issued_at } }),
        Q.el("button", {
          class: "btn small primary call-this", type: "button", disabled: !idle || paused,
          title: "呼叫此号 Call this ticket", onclick: () => callTicket(t),
        }, "呼叫 Call")));
    });
    if (q.waiting_total > q.waiting.length) {
      wl.append(Q.el("li", { class: "empty" }, "另有 " + (q.waiting_total - q.waiting.length) + " 人 · more waiting"));
    }

    const nl = $("noshow-list");
    nl.replaceChildren();
    $("noshow-count").textContent = q.no_shows.length + " 个";
    if (q.no_shows.length === 0) nl.append(Q.el("li", { class: "empty" }, "暂无过号 · No no-shows"));
    for (const t of q.no_shows) {
      nl.append(Q.el("li", { dataset: { id: t.id, number: t.number } },
        Q.el("span", { class: "num" }, t.number),
        Q.el("span", { class: "svc" }, serviceName(t.service)),
        Q.el("span", { class: "age", dataset: { since: t.finished_at || t.issued_at } }),
        Q.el("span", { class: "row-actions" },
          Q.el("button", {
            class: "btn small", type: "button", title: "重新排队 Back into the queue", onclick: () => requeue(t),
          }, "重排 Requeue"),
          Q.el("button", {
            class: "btn small primary call-this", type: "button", disabled: !idle || paused,
            title: "呼叫此号 Call this ticket", onclick: () => callTicket(t),
          }, "呼叫 Call"))));
    }
  }

  /** Once a second: the running durations. */
  function tick() {
    if (!S.queue) return;
    const now = Q.now();
    const cur = S.queue.current;
    if (cur && cur.called_at) $("current-serving").textContent = Q.duration((now - Date.parse(cur.called_at)) / 1000);
    for (const e of document.querySelectorAll(".age[data-since]")) {
      e.textContent = Q.duration((now - Date.parse(e.dataset.since)) / 1000);
    }
  }
  setInterval(tick, 1000);

  // ---------- actions ----------

  const DONE = {
    "call-next": (r) => "已呼叫 " + r.ticket.number + " · Called",
    recall: (r) => "已重呼 " + r.ticket.number + " · Called again",
    "no-show": (r) => r.ticket.number + " 已过号 · marked no-show",
    finish: (r) => r.ticket.number + " 已办结 · finished",
    pause: () => "已暂停 · Paused",
    resume: () => "已恢复 · Resumed",
    transfer: (r) => r.ticket.number + " 已转移 · transferred",
    call: (r) => "已呼叫 " + r.ticket.number + " · Called",
  };

  async function act(action, body) {
    if (!S.session || S.busy) return;
    S.busy = true;
    try {
      const r = await Q.api("POST", "/api/v1/counters/" + encodeURIComponent(S.session.counter) + "/" + action, {
        token: S.session.token, body,
      });
      say(DONE[action] ? DONE[action](r) : "OK", "ok");
      await refresh();
    } catch (e) {
      handleError(e);
      await refresh();
    } finally {
      S.busy = false;
    }
  }

  function callTicket(t) { act("call", { ticket: t.id }); }

  /** One key on a busy morning: finish the current ticket, then call the next. */
  async function finishAndNext() {
    if (!S.session || S.busy) return;
    S.busy = true;
    const path = "/api/v1/counters/" + encodeURIComponent(S.session.counter) + "/";
    try {
      const done = await Q.api("POST", path + "finish", { token: S.session.token });
      try {
        const next = await Q.api("POST", path + "call-next", { token: S.session.token });
        say(done.ticket.number + " 已办结，已呼叫 " + next.ticket.number + " · finished, called " + next.ticket.number, "ok");
      } catch (e) {
        if (e.code !== "queue_empty") throw e;
        say(done.ticket.number + " 已办结，暂无等候 · finished; nobody is waiting", "ok");
      }
    } catch (e) {
      handleError(e);
    } finally {
      S.busy = false;
      await refresh();
    }
  }

  async function requeue(t) {
    try {
      await Q.api("POST", "/api/v1/tickets/" + t.id + "/requeue", { token: S.session.token });
      say(t.number + " 已重新排队 · back in the queue", "ok");
      await refresh();
    } catch (e) {
      handleError(e);
    }
  }

  function pauseResume() {
    if (!S.queue) return;
    if (S.queue.counter.state === "paused") {
      act("resume");
      return;
    }
    const box = $("pause-reasons");
    box.replaceChildren();
    (S.queue.pause_reasons || []).forEach((r, i) => {
      const id = "pause-reason-" + i;
      box.append(Q.el("label", { class: "reason", for: id },
        Q.el("input", { type: "radio", name: "pause-reason", id, value: r }), " " + r));
    });
    $("pause-error").textContent = "";
    $("pause-dialog").showModal();
  }

  $("pause-cancel").addEventListener("click", () => $("pause-dialog").close());
  $("pause-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const chosen = document.querySelector("input[name=pause-reason]:checked");
    if (!chosen) {
      $("pause-error").textContent = "请选择暂停原因 · Choose a reason";
      return;
    }
    $("pause-dialog").close();
    await act("pause", { reason: chosen.value });
  });

  $("btn-call-next").addEventListener("click", () => act("call-next"));
  $("btn-recall").addEventListener("click", () => act("recall"));
  $("btn-no-show").addEventListener("click", () => act("no-show"));
  $("btn-finish").addEventListener("click", () => act("finish"));
  $("btn-transfer").addEventListener("click", openTransfer);
  $("btn-pause").addEventListener("click", pauseResume);
  $("btn-finish-next").addEventListener("click", finishAndNext);

  const KEYS = { F1: "btn-call-next", F2: "btn-recall", F3: "btn-no-show", F4: "btn-finish", F5: "btn-transfer", F6: "btn-pause", F7: "btn-finish-next" };
  document.addEventListener("keydown", (ev) => {
    const id = KEYS[ev.key];
    if (!id || !S.session || $("console-view").hidden) return;
    ev.preventDefault();
    if ($("transfer-dialog").open) return;
    const b = $(id);
    if (!b.disabled) b.click();
  });
  // F1 would open the browser's help.
  window.addEventListener("help", (ev) => ev.preventDefault());

  // ---------- transfer ----------

  function fillTransferCounters() {
    const hallId = $("transfer-hall").value || S.session.hall;
    const hall = S.halls.halls.find((h) => h.id === hallId);
    const sel = $("transfer-counter");
    sel.replaceChildren(Q.el("option", { value: "" }, "任意窗口 · any counter"));
    for (const c of hall.counters) {
      if (c.id === S.session.counter) continue;
      sel.append(Q.el("option", { value: c.id }, c.number + " 号窗口 · " + c.id));
    }
  }

  function openTransfer() {
    const cur = S.queue && S.queue.current;
    if (!cur) return;
    $("transfer-number").textContent = cur.number;
    $("transfer-error").textContent = "";
    const svc = $("transfer-service");
    svc.replaceChildren(Q.el("option", { value: "" }, "不变 · keep (" + serviceName(cur.service) + ")"));
    const here = S.halls.halls.find((h) => h.id === S.session.hall);
    for (const s of here.services) svc.append(Q.el("option", { value: s.id }, s.prefix + " " + s.name_zh + " " + s.name_en));
    const hall = $("transfer-hall");
    hall.replaceChildren(Q.el("option", { value: "" }, "本厅 · this hall (" + here.name_zh + ")"));
    for (const h of S.halls.halls) if (h.id !== S.session.hall) hall.append(Q.el("option", { value: h.id }, h.name_zh + " " + h.name_en));
    fillTransferCounters();
    $("transfer-dialog").showModal();
  }

  $("transfer-hall").addEventListener("change", fillTransferCounters);
  $("transfer-cancel").addEventListener("click", () => $("transfer-dialog").close());
  $("transfer-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const body = {};
    if ($("transfer-service").value) body.service = $("transfer-service").value;
    if ($("transfer-hall").value) body.hall = $("transfer-hall").value;
    if ($("transfer-counter").value) body.counter = $("transfer-counter").value;
    if (Object.keys(body).length === 0) {
      $("transfer-error").textContent = "请选择业务、大厅或窗口 · Choose a service, a hall or a counter";
      return;
    }
    try {
      const r = await Q.api("POST", "/api/v1/counters/" + encodeURIComponent(S.session.counter) + "/transfer", {
        token: S.session.token, body,
      });
      $("transfer-dialog").close();
      say(DONE.transfer(r), "ok");
      await refresh();
    } catch (e) {
      if (e.status === 401) { $("transfer-dialog").close(); handleError(e); return; }
      $("transfer-error").textContent = Q.message(e);
    }
  });

  // ---------- start ----------

  (async () => {
    try {
      await loadHalls();
    } catch (e) {
      $("login-view").hidden = false;
      $("login-error").textContent = Q.message(e);
      return;
    }
    fillCounterSelect();
    const saved = sessionStorage.getItem(SESSION_KEY);
    if (saved) {
      try {
        await startConsole(JSON.parse(saved));
        return;
      } catch (e) { /* fall through to sign in */ }
    }
    showLogin("");
  })();
})();
