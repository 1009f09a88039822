// Shared helpers of the qcall web pages: JSON API calls, the live event stream, formatting.
"use strict";

const Q = (() => {
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
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
    try {
      resp = await fetch(path, { method, headers, body, cache: "no-store" });
    } catch (e) {
      throw new ApiError(0, "network", "无法连接服务器 · Cannot reach the server");
    }
    const text = await resp.text();
    let data = null;
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    if (!resp.ok) {
      const err = data && data.error ? data.error : { code: "http_" + resp.status, message: text || resp.statusText };
      throw new ApiError(resp.status, err.code, err.message);
    }
    return data;
  }

  /**
   * Follow a hall's event stream. `onMessage(msg)` gets the snapshot and every event;
   * `onStatus(connected)` reports the connection. Reconnects with `?since=` so nothing is missed.
   */
  function stream(hall, onMessage, onStatus) {
    let since = null;
    let delay = 500;
    let ws = null;
    let stopped = false;
    function open() {
      if (stopped) return;
      const proto = location.protocol === "https:" ? "wss:" : "ws:";
      const q = since === null ? "" : "?since=" + since;
      ws = new WebSocket(proto + "//" + location.host + "/api/v1/halls/" + encodeURIComponent(hall) + "/events" + q);
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

  /** Counter id this event is about (a call, finish, transfer away, pause …), if any. */
  function eventCounter(msg) {
    return msg.counter || msg.from_counter || null;
  }

  return { ApiError, api, stream, duration, el, hallOfCounter, eventCounter };
})();
