// The period report (/supervisor/reports): charts and tables for a period and hall, every table
// downloadable as CSV. Uses the duty leader's session of this tab (signed in at /supervisor).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const saved = sessionStorage.getItem("qcall.supervisor");
  if (!saved) {
    location.replace("/supervisor");
    return;
  }
  const token = JSON.parse(saved).token;
  const TABLES = [["hall", "by_hall", "按大厅 · by hall"], ["service", "by_service", "按业务 · by service"], ["counter", "by_counter", "按窗口 · by counter"], ["clerk", "by_clerk", "按人员 · by clerk"]];
  const min = (s) => (s === null || s === undefined ? "—" : (s / 60).toFixed(1));

  function say(text, kind) { $("notice").textContent = text; $("notice").className = "notice " + (kind || ""); }

  function query(extra) {
    const hall = $("hall").value;
    return "from=" + $("from").value + "&to=" + $("to").value + (hall ? "&hall=" + encodeURIComponent(hall) : "") + (extra || "");
  }

  async function show(ev) {
    if (ev) ev.preventDefault();
    try {
      const r = await Q.api("GET", "/api/v1/reports/summary?" + query(), { token });
      render(r);
      say("");
    } catch (e) {
      if (e.status === 401) { location.replace("/supervisor"); return; }
      say(Q.message(e), "error");
    }
  }

  /** The headline: 取号 / 办结 / 平均等候 / 满意率 (ratings 3–5 of all ratings: not 差评). */
  function headline(t) {
    const rated = [1, 2, 3, 4, 5].reduce((n, k) => n + (t.ratings[String(k)] || 0), 0);
    const figure = (zh, en, v, id) => Q.el("div", { class: "figure", id }, Q.el("span", { class: "v" }, v), Q.el("span", { class: "k" }, zh, " ", Q.el("span", { class: "en" }, en)));
    $("headline").replaceChildren(
      figure("取号", "tickets", String(t.issued), "head-issued"),
      figure("办结", "served", String(t.served), "head-served"),
      figure("平均等候", "mean wait", t.mean_wait_s === null || t.mean_wait_s === undefined ? "—" : min(t.mean_wait_s) + " 分钟", "head-wait"),
      figure("满意率", "satisfied", rated ? (100 * (rated - t.bad) / rated).toFixed(1) + "%" : "—", "head-satisfied"));
  }

  function render(r) {
    $("report").hidden = false;
    headline(r.totals);
    $("hours-title").textContent = r.to + "，与前 4 周同一天相比 · against the same weekday of the 4 weeks before";
    // Only the hours the hall opens in, from the first to the last; an hour closed in between
    // (lunch) is a gap, not a zero.
    const open = new Set(r.open_hours);
    const hours = r.open_hours.length ? r.day_hours.filter((h) => h.hour >= r.open_hours[0] && h.hour <= r.open_hours[r.open_hours.length - 1]) : r.day_hours;
    const mean4 = (h) => r.weekday_hours.find((w) => w.hour === h.hour);
    const only = (h, v) => (open.has(h.hour) || !r.open_hours.length ? v : null);
    QChart.draw($("chart-hours"), {
      labels: hours.map((h) => h.hour + "时"), every: 1, right: " 分", title: "hours", integer: "left",
      series: [
        { name: "issued", label: "取号 tickets", kind: "bar", axis: "left", color: "#5b9bd5", values: hours.map((h) => only(h, h.issued)) },
        { name: "issued-4w", label: "前4周均值 4-week mean", kind: "bar", axis: "left", color: "#c9d3df", values: hours.map((h) => only(h, mean4(h).issued)) },
        { name: "wait", label: "平均等候(分) mean wait", kind: "line", axis: "right", color: "#c0392b", values: hours.map((h) => only(h, h.mean_wait_s === null ? null : h.mean_wait_s / 60)) },
        { name: "wait-4w", label: "前4周 4 weeks", kind: "line", axis: "right", color: "#e59866", dashed: true, values: hours.map((h) => only(h, mean4(h).mean_wait_s === null ? null : mean4(h).mean_wait_s / 60)) },
      ],
    });
    QChart.draw($("chart-days"), {
      labels: r.per_day.map((d) => d.day.slice(5)), every: Math.max(1, Math.ceil(r.per_day.length / 12)), title: "days", integer: "left",
      series: [
        { name: "issued", label: "取号 issued", kind: "bar", axis: "left", color: "#5b9bd5", values: r.per_day.map((d) => d.issued) },
        { name: "served", label: "办结 served", kind: "line", axis: "left", color: "#2e7d32", values: r.per_day.map((d) => d.served) },
      ],
    });
    QChart.draw($("chart-waits"), {
      labels: r.waits.map((b) => b.to_min === null ? b.from_min + "+" : b.from_min + "-" + b.to_min), every: 2, title: "waits", integer: "left",
      series: [{ name: "tickets", label: "人数 tickets (分钟 minutes)", kind: "bar", axis: "left", color: "#8e7cc3", values: r.waits.map((b) => b.tickets) }],
    });
    $("tables").replaceChildren(...TABLES.map(([key, field, title]) => table(key, title, r[field])));
  }

  function table(key, title, rows) {
    const head = ["编号", "名称", "取号", "办结", "过号", "未办结", "平均等候(分钟)", "P90等候(分钟)", "平均办理(分钟)", "暂停(分钟)", "非常满意", "满意", "基本满意", "不满意", "非常不满意", "差评"];
    return Q.el("div", { class: "report-table", dataset: { table: key } },
      Q.el("h2", {}, title, " ", Q.el("button", { class: "btn small", type: "button", dataset: { csv: key }, onclick: () => csv(key) }, "CSV")),
      Q.el("table", { class: "stats" },
        Q.el("thead", {}, Q.el("tr", {}, head.map((h) => Q.el("th", {}, h)))),
        Q.el("tbody", {}, rows.map((r) => Q.el("tr", { dataset: { key: r.key } },
          Q.el("td", {}, r.key), Q.el("td", {}, r.name), Q.el("td", {}, String(r.issued)), Q.el("td", {}, String(r.served)),
          Q.el("td", {}, String(r.no_shows)), Q.el("td", {}, String(r.unfinished || 0)), Q.el("td", {}, min(r.mean_wait_s)), Q.el("td", {}, min(r.p90_wait_s)),
          Q.el("td", {}, min(r.mean_service_s)), Q.el("td", {}, r.pause_s === null || r.pause_s === undefined ? "—" : min(r.pause_s)),
          [5, 4, 3, 2, 1].map((n) => Q.el("td", {}, String(r.ratings[String(n)] || 0))),
          Q.el("td", { class: r.bad ? "bad" : "" }, String(r.bad)))))));
  }

  async function csv(key) {
    const r = await fetch("/api/v1/reports/summary?" + query("&table=" + key + "&format=csv"), { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
    if (!r.ok) { say("导出失败 · export failed (" + r.status + ")", "error"); return; }
    const url = URL.createObjectURL(await r.blob());
    const a = Q.el("a", { href: url, download: "qcall-" + key + "-" + $("from").value + "-" + $("to").value + ".csv" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  $("report-form").addEventListener("submit", show);
  (async () => {
    const halls = await Q.api("GET", "/api/v1/halls");
    for (const h of halls.halls) $("hall").append(Q.el("option", { value: h.id }, h.name_zh));
    const day = halls.halls.length ? halls.halls[0].day : Q.today();
    const p = new URLSearchParams(location.search);
    $("to").value = p.get("to") || day;
    const start = new Date(Date.parse($("to").value + "T00:00:00Z") - 6 * 86400000).toISOString().slice(0, 10);
    $("from").value = p.get("from") || start;
    if (p.get("hall")) $("hall").value = p.get("hall");
    show();
  })();
})();
