// The ticket page (/t/{id}, from the QR code on a printed ticket) kept live: it follows the
// hall's public event stream and, after anything that may move this ticket, takes the page
// again from the server and puts its card in place, so the server renders it one way only.
// When the ticket is called the phone vibrates, beeps where the browser allows it, and the
// tab's title flashes. A phone that slept catches up as soon as it wakes.
(function () {
  "use strict";

  const card = () => document.querySelector("main.ticket-card");
  const first = card();
  if (!first || !first.dataset.ticket) return;
  const id = first.dataset.ticket;
  const hall = first.dataset.hall;
  const baseTitle = document.title;
  let lastState = first.dataset.state;
  let pending = null;
  let flashing = null;
  let audio = null;
  let stream = null;

  /** The states after which nothing about this ticket changes any more. */
  const FINAL = ["finished", "expired", "unfinished", "moved"];

  function schedule(delay) {
    if (pending && delay > 0) return;
    if (pending) clearTimeout(pending);
    pending = setTimeout(() => { pending = null; refresh(); }, delay);
  }

  async function refresh() {
    let html;
    try {
      const resp = await fetch(location.pathname + location.search, { cache: "no-store", headers: { accept: "text/html" } });
      if (!resp.ok && resp.status !== 404) return;
      html = await resp.text();
    } catch (e) {
      return; // offline for a moment: the stream's reconnect brings the next try
    }
    const doc = new DOMParser().parseFromString(html, "text/html");
    const next = doc.querySelector("main.ticket-card");
    const now = card();
    if (!next || !now) return;
    now.replaceWith(next);
    bindAlerts();
    const state = next.dataset.state;
    if (state !== lastState) {
      if (state === "called") announce();
      else stopFlash();
      lastState = state;
      textsStillOffered();
    }
    if (FINAL.includes(state) && stream) {
      stream.stop();
      stream = null;
    }
  }

  /** It is this ticket's turn: vibrate, beep, flash the title until the person looks. */
  function announce() {
    if (navigator.vibrate) {
      try { navigator.vibrate([400, 200, 400, 200, 800]); } catch (e) { /* not allowed here */ }
    }
    beep();
    startFlash();
  }

  function beep() {
    if (!audio) return;
    try {
      if (audio.state === "suspended") audio.resume();
      [0, 0.45].forEach((at) => {
        const o = audio.createOscillator();
        const g = audio.createGain();
        o.frequency.value = 880;
        g.gain.setValueAtTime(0.0001, audio.currentTime + at);
        g.gain.exponentialRampToValueAtTime(0.4, audio.currentTime + at + 0.02);
        g.gain.exponentialRampToValueAtTime(0.0001, audio.currentTime + at + 0.35);
        o.connect(g).connect(audio.destination);
        o.start(audio.currentTime + at);
        o.stop(audio.currentTime + at + 0.4);
      });
    } catch (e) { /* no sound here: the vibration and the title remain */ }
  }

  function startFlash() {
    stopFlash();
    let on = false;
    flashing = setInterval(() => {
      on = !on;
      document.title = on ? "【轮到您了 · Your turn】" : baseTitle;
    }, 1000);
  }

  function stopFlash() {
    if (flashing) clearInterval(flashing);
    flashing = null;
    document.title = baseTitle;
  }

  /** Browsers play sound only after a touch: the button on the card asks for one. */
  function bindAlerts() {
    const b = document.getElementById("alerts-on");
    if (!b) return;
    if (audio) {
      b.hidden = true;
      const done = document.getElementById("alerts-done");
      if (done) done.hidden = false;
      return;
    }
    b.hidden = false;
    b.onclick = () => {
      try {
        const Ctx = window.AudioContext || window.webkitAudioContext;
        if (Ctx) audio = new Ctx();
      } catch (e) { audio = null; }
      if (navigator.vibrate) {
        try { navigator.vibrate(50); } catch (e) { /* not allowed here */ }
      }
      b.hidden = true;
      const done = document.getElementById("alerts-done");
      if (done) done.hidden = false;
    };
  }

  function follow() {
    if (stream || FINAL.includes(lastState)) return;
    stream = Q.stream(hall, (msg) => {
      // The snapshot after a (re)connect, or any event of the hall: the card may have moved.
      // An event about this very ticket is shown at once; others are gathered a moment.
      const mine = msg.ticket && String(msg.ticket.id) === id;
      if (msg.type === "snapshot" || mine) schedule(0);
      else schedule(300);
    }, (connected) => {
      // On the body: the card is replaced after every event.
      document.body.dataset.connected = connected ? "yes" : "no";
    });
  }

  // A phone that slept, or came back online, catches up at once.
  function wake() {
    if (document.visibilityState !== "visible") return;
    stopFlash();
    refresh();
    if (!stream) follow();
  }
  document.addEventListener("visibilitychange", wake);
  window.addEventListener("online", wake);
  window.addEventListener("pageshow", (e) => { if (e.persisted) wake(); });
  window.addEventListener("focus", () => { if (lastState === "called") stopFlash(); });

  /** 到号短信提醒: the code to the phone, then the number for this ticket. */
  function bindTexts() {
    const box = document.getElementById("texts");
    if (!box) return;
    box.hidden = false;
    const $ = (x) => document.getElementById(x);
    const phone = () => $("texts-phone").value.replace(/\s/g, "");
    const fail = (e) => { $("texts-err").textContent = Q.message(e); };
    $("texts-send").onclick = async () => {
      $("texts-err").textContent = "";
      try {
        const r = await Q.api("POST", "/api/v1/appointments/phone-code", { body: { phone: phone() } });
        $("texts-hint").textContent = "验证码已发送至 " + r.phone + " · Code sent to " + r.phone;
        $("texts-code").focus();
      } catch (e) { fail(e); }
    };
    $("texts-submit").onclick = async () => {
      $("texts-err").textContent = "";
      try {
        await Q.api("POST", "/api/v1/tickets/" + encodeURIComponent(id) + "/phone", { body: { phone: phone(), phone_code: $("texts-code").value.trim() } });
        box.hidden = true;
        refresh();
      } catch (e) { fail(e); }
    };
  }

  /** The offer is for a waiting ticket only. */
  function textsStillOffered() {
    const box = document.getElementById("texts");
    if (box && lastState !== "waiting") box.hidden = true;
  }

  /** Rating on the phone (the card's form, from the printed QR code's link). */
  let score = 0;
  document.addEventListener("click", async (ev) => {
    const pick = ev.target.closest("[data-score]");
    const form = document.getElementById("rate");
    if (!form) return;
    if (pick) {
      score = Number(pick.dataset.score);
      form.querySelectorAll("[data-score]").forEach((b) => b.classList.toggle("chosen", b === pick));
      document.getElementById("rate-reasons").hidden = score > 2;
      document.getElementById("rate-send").disabled = false;
      return;
    }
    if (ev.target.id !== "rate-send" || !score) return;
    const reasons = score <= 2 ? Array.from(form.querySelectorAll("input[type=checkbox]:checked"), (c) => c.value) : [];
    ev.target.disabled = true;
    try {
      await Q.api("POST", "/api/v1/tickets/" + encodeURIComponent(id) + "/phone-rating", { body: { key: form.dataset.key, score, reasons } });
      refresh();
    } catch (e) {
      document.getElementById("rate-err").textContent = Q.message(e);
      ev.target.disabled = false;
    }
  });

  bindAlerts();
  bindTexts();
  follow();
})();
