// 线上取号: pick a hall and a service, prove the phone with a texted code, take a number,
// then go to the ticket's own page (which shows the check-in code).
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const S = { halls: [], hall: null, service: null, requestId: null };

  function requestId() {
    const a = new Uint8Array(16);
    crypto.getRandomValues(a);
    return Array.from(a, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  function show(step) {
    for (const s of ["step-hall", "step-service", "step-phone"]) $(s).hidden = s !== step;
    const h = $(step).querySelector("h2");
    if (h) h.scrollIntoView({ block: "nearest" });
  }

  /** Why a service of a hall cannot be taken now, or "" when it can. */
  function refusal(hall, q) {
    if (hall.remote_left === 0) return "今日线上号已满 · Today's remote numbers are taken";
    if (q.sold_out) return "今日号源已满 · Sold out today";
    if (q.closed_until) {
      const at = new Date(q.closed_until).toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", timeZone: hall.time_zone || "Asia/Shanghai" });
      return (q.full ? "号源已满" : "暂停取号") + "，" + at + " 起可取 · From " + at;
    }
    return "";
  }

  function renderHalls() {
    const list = $("hall-list");
    list.replaceChildren();
    const open = S.halls.filter((h) => h.remote_left !== undefined && h.remote_left !== null);
    if (!open.length) {
      list.append(Q.el("p", {}, "目前没有服务厅提供线上取号 · No hall takes remote tickets"));
    }
    for (const h of open) {
      const waiting = h.services.reduce((n, s) => n + s.waiting, 0);
      const b = Q.el("button", { type: "button", class: "choice", "data-hall": h.id },
        Q.el("strong", {}, h.name_zh + " · " + h.name_en),
        Q.el("span", { class: "muted" }, " 等候 " + waiting + " 人 · " + waiting + " waiting · 线上余号 " + h.remote_left + " left"));
      b.disabled = h.remote_left === 0;
      b.onclick = () => { S.hall = h; renderServices(); show("step-service"); };
      list.append(b);
    }
    show("step-hall");
  }

  function renderServices() {
    const h = S.hall;
    $("picked-hall").textContent = h.name_zh + " · " + h.name_en + (h.address ? " — " + h.address : "");
    const list = $("service-list");
    list.replaceChildren();
    for (const s of h.services) {
      const why = refusal(h, s);
      const wait = Q.waitText(s).join(" · ");
      const b = Q.el("button", { type: "button", class: "choice", "data-service": s.id },
        Q.el("strong", {}, s.name_zh + " · " + s.name_en),
        Q.el("span", { class: "muted" }, why || ("等候 " + s.waiting + " 人，" + wait)));
      b.disabled = !!why;
      b.onclick = () => {
        S.service = s;
        S.requestId = requestId();
        $("picked-service").textContent = h.name_zh + " · " + s.name_zh + " " + s.name_en;
        show("step-phone");
        $("phone").focus();
      };
      list.append(b);
    }
  }

  function phone() { return $("phone").value.replace(/\s+/g, ""); }

  $("send-code").onclick = async () => {
    $("take-error").textContent = "";
    try {
      const r = await Q.api("POST", "/api/v1/appointments/phone-code", { body: { phone: phone() } });
      $("code-hint").textContent = "验证码已发送至 " + r.phone + " · Code sent to " + r.phone;
      $("code").focus();
    } catch (e) {
      $("take-error").textContent = Q.message(e);
    }
  };

  $("take").onclick = async () => {
    $("take-error").textContent = "";
    $("take").disabled = true;
    try {
      const r = await Q.api("POST", "/api/v1/halls/" + encodeURIComponent(S.hall.id) + "/remote-tickets", {
        body: { service: S.service.id, phone: phone(), phone_code: $("code").value.trim(), request_id: S.requestId },
      });
      // The ticket's page, with its check-in code: on this server, whatever its public name.
      const u = new URL(r.page, location.href);
      location.assign(u.pathname + u.search);
    } catch (e) {
      $("take-error").textContent = Q.message(e);
      $("take").disabled = false;
    }
  };

  $("back-hall").onclick = () => show("step-hall");
  $("back-service").onclick = () => show("step-service");

  (async () => {
    try {
      const r = await Q.api("GET", "/api/v1/halls");
      S.halls = (r && r.halls) || [];
      $("loading").hidden = true;
      renderHalls();
    } catch (e) {
      $("loading").hidden = true;
      $("load-error").textContent = Q.message(e);
    }
  })();
})();
