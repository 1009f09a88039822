// The booking page's "my bookings" (found by the phone and the ID number) and /book/{code}
// (show or cancel one booking, proven by the phone number). Loaded after book-text.js and
// book.js: the texts, the state `S` and the helpers come from `QBook`.
"use strict";

(() => {
  const QB = (window.QBook = window.QBook || {});
  const {
    t, S, PHONE_RE, ID_RE, LAST_KEY, getStore, setStore,
    hallById, serviceOf, hallName, serviceName, fmtDay, fmtDateTime, span,
    setErr, clearErr, show, loadHalls, fact, cleanPhone, qrSrc, bookingFacts,
  } = QB;
  const $ = (id) => document.getElementById(id);
  const CODE_RE = /^\d{8}$/;

  /** The booking last made or shown in this tab, with its phone: /book/{code} opens it. */
  function readLast() {
    try {
      const v = JSON.parse(getStore(sessionStorage, LAST_KEY) || "null");
      return v && typeof v.code === "string" && typeof v.phone === "string" ? v : null;
    } catch (e) {
      return null;
    }
  }

  // ---------- my bookings: found by phone and ID number ----------

  $("mine-open").addEventListener("click", () => {
    clearErr("mine-error");
    $("mine-list").replaceChildren();
    show("mine", true);
  });
  $("back-mine").addEventListener("click", () => show("hall", true));
  $("mine-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErr("mine-error");
    const phone = cleanPhone($("mine-phone").value);
    const id = $("mine-id").value.replace(/\s+/g, "").toUpperCase();
    if (!PHONE_RE.test(phone)) { setErr("mine-error", "v_phone"); $("mine-phone").focus(); return; }
    if (!ID_RE.test(id)) { setErr("mine-error", "v_id"); $("mine-id").focus(); return; }
    $("mine-submit").disabled = true;
    try {
      if (!S.halls) await loadHalls();
      const r = await Q.api("POST", "/api/v1/appointments/lookup", { body: { phone, id_number: id } });
      if (!r.bookings.length) {
        $("mine-list").replaceChildren(Q.el("p", { class: "empty" }, t("mine_none")));
        return;
      }
      $("mine-list").replaceChildren(...r.bookings.map((b) => {
        const h = hallById(b.hall);
        const svc = serviceOf(b.hall, b.service);
        return Q.el("a", {
          class: "choice mine-choice", href: "/book/" + encodeURIComponent(b.code), dataset: { code: b.code },
          // The booking page finds it with the phone kept for this tab (not in the address).
          onclick: () => setStore(sessionStorage, LAST_KEY, JSON.stringify({ code: b.code, phone })),
        },
        Q.el("span", { class: "choice-main" }, fmtDay(b.date) + " " + span(b.slot.start, b.slot.end)),
        Q.el("span", { class: "choice-sub" }, (h ? hallName(h) : b.hall) + " · " + (svc ? serviceName(svc) : b.service) + " · " + t("state_" + b.state)));
      }));
    } catch (e) {
      setErr("mine-error", e);
    } finally {
      $("mine-submit").disabled = false;
    }
  });

  // ---------- /book/{code}: view or cancel ----------

  function showLookup() {
    $("view-booking").hidden = true;
    $("view-lookup").hidden = false;
  }

  async function lookup(phone, auto) {
    const btn = $("view-phone-submit");
    btn.disabled = true;
    clearErr("view-error");
    try {
      const b = await Q.api("POST", "/api/v1/appointments/" + encodeURIComponent(S.viewCode) + "/view", { body: { phone } });
      S.viewPhone = phone;
      S.booking = b;
      setStore(sessionStorage, LAST_KEY, JSON.stringify({ code: b.code, phone }));
      $("view-lookup").hidden = true;
      renderView();
    } catch (e) {
      if (auto && e.code === "unknown_booking") {
        try { sessionStorage.removeItem(LAST_KEY); } catch (x) { /* gone anyway */ }
        showLookup();
        return;
      }
      showLookup();
      if (auto) $("view-phone").value = phone;
      setErr("view-error", e);
    } finally {
      btn.disabled = false;
    }
  }

  $("view-lookup").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const phone = cleanPhone($("view-phone").value);
    if (!PHONE_RE.test(phone)) {
      setErr("view-error", "v_phone");
      $("view-phone").setAttribute("aria-invalid", "true");
      $("view-phone").focus();
      return;
    }
    $("view-phone").removeAttribute("aria-invalid");
    lookup(phone, false);
  });

  const canCancel = (b) => b.state === "booked" && Q.now() < Date.parse(b.cancel_until);

  function renderView() {
    const b = S.booking;
    $("view-booking").hidden = false;
    $("view-code").textContent = b.code;
    const st = $("view-state");
    st.textContent = t("state_" + b.state);
    st.className = "state-badge state-" + b.state;
    st.dataset.state = b.state;
    const qr = $("view-qr");
    qr.hidden = b.state !== "booked";
    if (b.state === "booked" && qr.getAttribute("src") !== qrSrc(b.code)) qr.src = qrSrc(b.code);
    qr.alt = t("qr_alt", b.code);
    const facts = bookingFacts(b, true);
    facts.push(fact("k_check_in", span(b.check_in_from, b.check_in_until), "view-window"));
    if (b.state === "booked") facts.push(fact("k_cancel_until", fmtDateTime(b.cancel_until), "view-cancel-until"));
    if (b.state === "checked_in" && b.ticket !== null && b.ticket !== undefined) {
      facts.push(fact("k_ticket", Q.el("a", { href: "/t/" + encodeURIComponent(b.ticket), id: "view-ticket" }, t("ticket_link"))));
    }
    $("view-facts").replaceChildren(...facts);

    const allowed = canCancel(b);
    if (!allowed) S.askCancel = false;
    $("view-cancel").hidden = !allowed || S.askCancel;
    $("view-cancel-ask").hidden = !allowed || !S.askCancel;
    $("view-cancel-confirm").disabled = S.cancelling;
    $("view-cancel-keep").disabled = S.cancelling;

    let note = "";
    if (b.state === "booked" && !allowed) note = t("cancel_closed", fmtDateTime(b.cancel_until));
    else if (b.state === "cancelled" && !S.notice) note = t("note_cancelled");
    else if (b.state === "no_show") note = t("note_no_show");
    else if (b.state === "checked_in") note = t("note_checked_in");
    $("view-note").textContent = note;
    $("view-note").hidden = !note;
    $("view-notice").textContent = S.notice ? t(S.notice) : "";
    $("view-notice").hidden = !S.notice;

    // Hide the cancel button when the time to cancel runs out while the page is open.
    clearTimeout(S.cancelTimer);
    if (allowed) {
      const left = Date.parse(b.cancel_until) - Q.now();
      if (left < 2147483647) S.cancelTimer = setTimeout(() => { if (S.step === "view" && S.booking) renderView(); }, left + 500);
    }
  }

  $("view-cancel").addEventListener("click", () => {
    S.askCancel = true;
    S.notice = null;
    clearErr("view-error");
    renderView();
    $("view-cancel-confirm").focus();
  });
  $("view-cancel-keep").addEventListener("click", () => {
    S.askCancel = false;
    renderView();
    if (!$("view-cancel").hidden) $("view-cancel").focus();
  });
  $("view-cancel-confirm").addEventListener("click", async () => {
    if (S.cancelling || !S.booking) return;
    S.cancelling = true;
    clearErr("view-error");
    renderView();
    try {
      const b = await Q.api("POST", "/api/v1/appointments/" + encodeURIComponent(S.viewCode) + "/cancel", { body: { phone: S.viewPhone } });
      S.booking = b;
      S.notice = b.state === "cancelled" ? "cancelled_ok" : null;
    } catch (e) {
      setErr("view-error", e);
      if (["cancel_too_late", "booking_cancelled"].includes(e.code)) {
        // Show the booking as it is now.
        try {
          S.booking = await Q.api("POST", "/api/v1/appointments/" + encodeURIComponent(S.viewCode) + "/view", { body: { phone: S.viewPhone } });
        } catch (x) { /* keep what is shown */ }
      }
    } finally {
      S.cancelling = false;
      S.askCancel = false;
      renderView();
      $("view-state").scrollIntoView({ block: "nearest" });
    }
  });

  async function startView(code) {
    S.viewCode = code;
    show("view");
    $("view-code").textContent = code;
    if (!CODE_RE.test(code)) {
      $("view-lookup").hidden = true;
      setErr("view-error", "bad_code");
      return;
    }
    // Hall names, address and time zone; the booking still shows without them.
    try { await loadHalls(); } catch (e) { S.halls = S.halls || []; }
    const last = readLast();
    if (last && last.code === code && PHONE_RE.test(last.phone)) await lookup(last.phone, true);
    else showLookup();
  }

  QB.renderView = renderView;

  // ---------- start ----------

  if (typeof QB.startCode === "string") startView(QB.startCode);
})();
