// The small screen above a window (/screen/counter/{counter}): its number and the ticket served.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const counterId = decodeURIComponent(location.pathname.split("/").pop());
  let hallId = null;
  let shown = null; // number shown now
  let refreshTimer = null;
  let mine = []; // this window's services
  const names = {}; // service id -> name
  const waits = {}; // service id -> its latest queue figures

  /** A new ticket's wait for each of this window's services ("发票 约 15–25 分钟"). */
  function renderWaits(services) {
    if (!services) return;
    const el = $("screen-wait");
    for (const s of services) waits[s.service || s.id] = s;
    const parts = mine.map((id) => waits[id] && names[id] ? names[id] + " " + Q.waitText(waits[id])[0] : null).filter(Boolean);
    el.textContent = parts.length ? "新取号预计等候 · " + parts.join("　") : "";
  }

  function render(hall) {
    const c = hall.counters.find((x) => x.id === counterId);
    if (!c) return;
    mine = c.services;
    for (const s of hall.services) names[s.id] = s.name_zh;
    renderWaits(hall.services);
    $("screen-window").textContent = c.number + " 号窗口";
    $("screen-window-en").textContent = "Window " + c.number + " · " + c.id;
    document.title = c.number + " 号窗口 · Window " + c.number;
    const num = $("screen-number");
    const label = $("screen-label");
    const status = $("screen-status");
    if (c.current) {
      const svc = hall.services.find((s) => s.id === c.current.service);
      label.textContent = "请 " + c.current.number + " 号办理 · Now serving";
      num.textContent = c.current.number;
      num.className = "screen-number";
      status.textContent = svc ? svc.name_zh + " · " + svc.name_en : "";
      if (shown !== c.current.number + "#" + c.current.call_count) {
        // restart the flash on every (re)call
        void num.offsetWidth;
        num.classList.add("flash");
      }
      shown = c.current.number + "#" + c.current.call_count;
    } else {
      shown = null;
      num.className = "screen-number idle";
      label.textContent = "";
      if (c.state === "open") {
        num.textContent = "请稍候";
        status.textContent = "Please wait to be called";
      } else if (c.state === "paused") {
        // In a called queue nobody should go to another window: the hall TV calls them.
        num.textContent = "暂停服务";
        label.textContent = "暂停服务" + (c.pause_reason ? "（" + c.pause_reason + "）" : "") + "，请留意大屏叫号";
        status.textContent = "Paused" + (c.pause_reason ? " (" + c.pause_reason + ")" : "") + ": please watch the hall screen for your number";
      } else {
        num.textContent = "暂停服务";
        status.textContent = "This window is closed";
      }
    }
  }

  async function refresh() {
    try {
      render(await Q.api("GET", "/api/v1/halls/" + encodeURIComponent(hallId)));
    } catch (e) {
      $("screen-status").textContent = Q.message(e);
    }
  }

  function onEvent(msg) {
    if (msg.type === "snapshot") {
      const h = msg.halls.find((x) => x.id === hallId);
      if (h) render(h);
      return;
    }
    if (msg.queues && msg.queues.length) renderWaits(msg.queues);
    if (Q.eventCounter(msg) === counterId || msg.type === "day_rolled_over") {
      clearTimeout(refreshTimer);
      refreshTimer = setTimeout(refresh, 30);
    }
  }

  (async () => {
    for (;;) {
      try {
        const found = Q.hallOfCounter(await Q.api("GET", "/api/v1/halls"), counterId);
        if (!found) { $("screen-status").textContent = "未知窗口 · Unknown counter"; return; }
        hallId = found.hall.id;
        render(found.hall);
        break;
      } catch (e) {
        $("screen-status").textContent = Q.message(e);
        await new Promise((r) => setTimeout(r, 3000));
      }
    }
    Q.stream(hallId, onEvent, (up) => { $("conn-lost").hidden = up; });
  })();
})();
