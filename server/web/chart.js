// A small SVG chart for the duty leader's pages: bars and lines (each point a circle) over
// labelled x positions, a left and a right axis. No library, no CDN.
"use strict";

const QChart = (() => {
  const NS = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function nice(max) {
    if (max <= 0) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(max)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= max) return m * p;
    return 10 * p;
  }

  /**
   * Draws into `box`: `labels` along x (every `every`-th shown); `series` of
   * { name, kind: "bar" | "line", values (null: no value: a gap), color, axis: "left" | "right", dashed }.
   * `integer`: the axis ("left"/"right") counts things: its ticks are whole numbers.
   */
  function draw(box, { labels, series, left, right, every, title, integer }) {
    const W = 960, H = 280, L = 52, R = 60, T = 26, B = 34;
    const n = labels.length;
    const step = (W - L - R) / Math.max(1, n);
    const x = (i) => L + (i + 0.5) * step;
    const max = (axis) => nice(Math.max(0, ...series.filter((s) => s.axis === axis).flatMap((s) => s.values.filter((v) => v !== null))));
    const top = { left: max("left"), right: max("right") };
    // Ticks at quarters: a count axis goes up to a multiple of 4 (at least 4).
    if (integer) top[integer] = Math.max(4, Math.ceil(top[integer] / 4) * 4);
    const y = (v, axis) => H - B - (v / top[axis]) * (H - T - B);
    const root = svg("svg", { viewBox: "0 0 " + W + " " + H, class: "chart", role: "img", "aria-label": title || "" });
    root.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#9aa5b1" }));
    for (const f of [0.25, 0.5, 0.75, 1]) {
      const yy = H - B - f * (H - T - B);
      root.append(svg("line", { x1: L, y1: yy, x2: W - R, y2: yy, stroke: "#eef2f6" }));
      if (series.some((s) => s.axis === "left")) root.append(svg("text", { x: L - 6, y: yy + 4, "text-anchor": "end", class: "axis" }, fmt(top.left * f) + (left || "")));
      if (series.some((s) => s.axis === "right")) root.append(svg("text", { x: W - R + 6, y: yy + 4, class: "axis right" }, fmt(top.right * f) + (right || "")));
    }
    labels.forEach((l, i) => {
      if (i % (every || 1) === 0) root.append(svg("text", { x: x(i), y: H - B + 16, "text-anchor": "middle", class: "axis" }, l));
    });
    const bars = series.filter((s) => s.kind === "bar");
    bars.forEach((s, k) => {
      const w = (step * 0.72) / bars.length;
      s.values.forEach((v, i) => {
        if (v === null) return;
        const yy = y(v, s.axis);
        root.append(svg("rect", {
          x: x(i) - step * 0.36 + k * w, y: yy, width: Math.max(1, w - 1), height: H - B - yy, fill: s.color,
          class: "bar", "data-series": s.name, "data-i": i,
        }));
      });
    });
    for (const s of series.filter((s) => s.kind === "line")) {
      const pts = s.values.map((v, i) => [x(i), y(v || 0, s.axis)]);
      // A line is broken where a value is missing: a gap, never a drop to zero.
      let run = [];
      const flush = () => {
        if (run.length > 1) {
          root.append(svg("polyline", {
            points: run.map((p) => p.join(",")).join(" "), fill: "none", stroke: s.color, "stroke-width": 2,
            "stroke-dasharray": s.dashed ? "5 4" : "none",
          }));
        }
        run = [];
      };
      s.values.forEach((v, i) => { if (v === null) flush(); else run.push(pts[i]); });
      flush();
      s.values.forEach((v, i) => {
        if (v === null) return;
        const c = svg("circle", {
          cx: pts[i][0], cy: pts[i][1], r: 3.2, fill: s.color, stroke: s.color,
          class: "point", "data-series": s.name, "data-i": i,
        });
        c.append(svg("title", {}, labels[i] + " · " + s.label + ": " + (v === null ? "—" : fmt(v))));
        root.append(c);
      });
    }
    let lx = L;
    for (const s of series) {
      const t = svg("text", { x: lx, y: 14, class: "legend", fill: s.color }, (s.kind === "bar" ? "■ " : s.dashed ? "┅ " : "● ") + s.label);
      root.append(t);
      lx += 18 + s.label.length * 12;
    }
    box.replaceChildren(root);
  }

  function fmt(v) {
    return Number.isInteger(v) ? String(v) : v.toFixed(1);
  }

  return { draw };
})();
