// The rating pad (/rate/{counter}): after 办结 at its counter it asks the taxpayer for a rating.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const counterId = decodeURIComponent(location.pathname.split("/").pop());
  const TOKEN_KEY = "qcall.pad.token." + counterId;
  const params = new URLSearchParams(location.search);
  /** Seconds the question stays up; unanswered, nothing is recorded. `?ask_s=` shortens it (tests). */
  const ASK_S = Math.min(30, Math.max(1, Number(params.get("ask_s")) || 30));
  /** Seconds the thanks (or an error) stays up. */
  const AFTER_S = 5;

  let token = null;
  let asking = null; // { id, number, until }
  let backTimer = null;

  function show(id) {
    for (const s of ["rate-setup", "rate-idle", "rate-ask", "rate-why", "rate-thanks", "rate-error"]) $(s).hidden = s !== id;
    document.body.dataset.view = id.replace("rate-", "");
  }

  function idle() {
    asking = null;
    clearTimeout(backTimer);
    show("rate-idle");
  }

  function ask(ticket) {
    clearTimeout(backTimer);
    asking = { id: ticket.id, number: ticket.number, until: Q.now() + ASK_S * 1000 };
    $("rate-number").textContent = ticket.number;
    for (const b of document.querySelectorAll(".score")) b.disabled = false;
    show("rate-ask");
    tick();
  }

  let why = null; // { id, until }

  /** The default reasons in English (a configured reason without one shows only in Chinese). */
  const REASON_EN = {
    "等候时间长": "Waited too long",
    "服务态度": "Attitude",
    "业务不熟练": "Not familiar with the business",
    "一次性告知不到位": "Not told everything at once",
    "其他": "Other",
  };

  /** After a 差评: which of the reasons applied (several may); unanswered in ASK_S: none. */
  function askWhy(ticket, reasons) {
    why = { id: ticket.id, until: Q.now() + ASK_S * 1000 };
    $("why-reasons").replaceChildren(...reasons.map((r) => Q.el("button", {
      class: "reason", type: "button", "aria-pressed": "false", dataset: { reason: r },
      onclick: (ev) => {
        const b = ev.currentTarget;
        b.setAttribute("aria-pressed", b.getAttribute("aria-pressed") === "true" ? "false" : "true");
      },
    }, Q.el("span", { class: "tick", "aria-hidden": "true" }, "✓"), r, REASON_EN[r] ? Q.el("span", { class: "en" }, REASON_EN[r]) : null)));
    $("why-send").disabled = false;
    show("rate-why");
    whyTick();
  }

  function whyTick() {
    if (!why) return;
    const left = Math.max(0, why.until - Q.now());
    $("why-countdown").style.width = (100 * left / (ASK_S * 1000)) + "%";
    $("why-left").textContent = Math.ceil(left / 1000) + " 秒后自动返回 · closes in " + Math.ceil(left / 1000) + " s";
    if (left <= 0) { why = null; after("rate-thanks"); } // unanswered: no reasons
  }
  setInterval(whyTick, 250);

  $("why-send").addEventListener("click", async () => {
    if (!why) return;
    const ticket = why;
    why = null;
    $("why-send").disabled = true;
    const reasons = [...document.querySelectorAll("#why-reasons .reason[aria-pressed=true]")].map((b) => b.dataset.reason);
    try {
      await Q.api("POST", "/api/v1/tickets/" + ticket.id + "/rating/reasons", { token, body: { reasons } });
    } catch (e) { /* the rating itself is recorded; the reasons are a courtesy */ }
    after("rate-thanks");
  });

  function tick() {
    if (!asking) return;
    const left = Math.max(0, asking.until - Q.now());
    $("rate-countdown").style.width = (100 * left / (ASK_S * 1000)) + "%";
    $("rate-left").textContent = Math.ceil(left / 1000) + " 秒后自动返回 · closes in " + Math.ceil(left / 1000) + " s";
    if (left <= 0) idle(); // unanswered: nothing is recorded
  }
  setInterval(tick, 250);

  function after(view) {
    asking = null;
    show(view);
    clearTimeout(backTimer);
    backTimer = setTimeout(idle, AFTER_S * 1000);
  }

  async function rate(score) {
    if (!asking) return;
    const ticket = asking;
    for (const b of document.querySelectorAll(".score")) b.disabled = true;
    try {
      const r = await Q.api("POST", "/api/v1/tickets/" + ticket.id + "/rating", { token, body: { score } });
      if (r.ask_reasons && r.ask_reasons.length) {
        asking = null;
        askWhy(ticket, r.ask_reasons);
      } else {
        after("rate-thanks");
      }
    } catch (e) {
      if (e.status === 401) {
        localStorage.removeItem(TOKEN_KEY);
        token = null;
        asking = null;
        setup("设备令牌无效 · The device token is not valid");
        return;
      }
      $("rate-error-text").textContent = Q.message(e);
      after("rate-error");
    }
  }

  for (const b of document.querySelectorAll(".score")) {
    b.addEventListener("click", () => rate(Number(b.dataset.score)));
  }

  /** The pad tells the server it is here, every 20 s (the duty leader sees it online). */
  async function heartbeat() {
    if (!token) return;
    try {
      await Q.api("POST", "/api/v1/devices/self/status", { token, body: { ok: true } });
    } catch (e) { /* the next one will do */ }
  }
  setInterval(heartbeat, 20000);

  /** Who serves here, shown while idle (亮证服务: name and 工号). */
  async function onDuty() {
    if (!token) return;
    try {
      const d = await Q.api("GET", "/api/v1/counters/" + encodeURIComponent(counterId) + "/on-duty", { token });
      $("idle-clerk").hidden = !d.clerk;
      $("idle-clerk-name").textContent = d.clerk ? d.clerk.name : "";
      $("idle-clerk-id").textContent = d.clerk ? d.clerk.id : "";
    } catch (e) { /* shown again at the next change */ }
  }

  function onEvent(msg) {
    if (!token) return;
    if (msg.type === "ticket_finished" && msg.counter === counterId) {
      ask(msg.ticket);
    }
    if (msg.type === "snapshot" || ((msg.type === "counter_opened" || msg.type === "counter_closed") && msg.counter === counterId)) onDuty();
  }

  function setup(message) {
    $("setup-window").textContent = message || "";
    show("rate-setup");
    $("rate-token").focus();
  }

  $("setup-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("rate-token").value.trim();
    if (!t) return;
    token = t;
    localStorage.setItem(TOKEN_KEY, t);
    $("rate-token").value = "";
    idle();
    heartbeat();
    onDuty();
  });

  (async () => {
    if (params.get("token")) {
      localStorage.setItem(TOKEN_KEY, params.get("token"));
      // keep the token out of the address bar and history
      params.delete("token");
      history.replaceState(null, "", location.pathname + (params.toString() ? "?" + params : ""));
    }
    token = localStorage.getItem(TOKEN_KEY);
    let hall = null;
    for (;;) {
      try {
        const found = Q.hallOfCounter(await Q.api("GET", "/api/v1/halls"), counterId);
        if (!found) { setup("未知窗口 · Unknown counter " + counterId); return; }
        hall = found.hall;
        const w = found.counter.number + " 号窗口 · Window " + found.counter.number;
        for (const id of ["idle-window", "ask-window"]) $(id).textContent = w;
        break;
      } catch (e) {
        $("setup-window").textContent = Q.message(e);
        show("rate-setup");
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
    if (token) idle(); else setup("");
    heartbeat();
    Q.stream(hall.id, onEvent, (up) => { $("conn-lost").hidden = up; }, token);
  })();
})();
