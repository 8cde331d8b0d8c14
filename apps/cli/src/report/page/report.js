// The Provium HTML report's page: reads the run's data from #provium-data (inlined by
// html.ts) and renders the summary, the filters, the list of tests and one test's details.
// Plain DOM, no library, nothing fetched: it works from file://.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("provium-data").textContent);
  const tests = data.tests;
  const state = { status: "all", file: "", tag: "", text: "" };

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  function ms(n) {
    if (n === undefined || n === null) return "";
    if (n < 1) return `${n.toFixed(2)} ms`;
    if (n < 1000) return `${Math.round(n)} ms`;
    if (n < 60000) return `${(n / 1000).toFixed(2)} s`;
    return `${Math.floor(n / 60000)} m ${Math.round((n % 60000) / 1000)} s`;
  }

  function bytes(n) {
    return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`;
  }

  // "tests/x.test.lua:12:" in messages and tracebacks: marked so the eye finds them.
  function withLocations(text) {
    const out = [];
    const re = /([\w./@\[\]-]+\.lua):(\d+)/g;
    let last = 0;
    for (const m of text.matchAll(re)) {
      out.push(text.slice(last, m.index), h("span", { class: "loc" }, m[0]));
      last = m.index + m[0].length;
    }
    out.push(text.slice(last));
    return out;
  }

  // Console lines a kernel prints when something went wrong.
  const ALARM = /Kernel panic|BUG:|WARNING:|Oops|Call Trace|Out of memory|segfault|error/i;
  function consoleText(text) {
    return text.split("\n").map((line) => h("span", { class: ALARM.test(line) ? "line alarm" : "line" }, line + "\n"));
  }

  const counts = { all: tests.length, failed: 0, passed: 0, skipped: 0 };
  for (const t of tests) counts[t.status]++;
  const fileNames = [...new Set(tests.map((t) => t.file))].sort();
  const tagNames = [...new Set(tests.flatMap((t) => t.tags))].sort();

  function visible(t) {
    if (state.status !== "all" && t.status !== state.status) return false;
    if (state.file && t.file !== state.file) return false;
    if (state.tag && !t.tags.includes(state.tag)) return false;
    if (state.text && !`${t.file} ${t.name}`.toLowerCase().includes(state.text.toLowerCase())) return false;
    return true;
  }

  function header() {
    const s = data.summary;
    const when = data.started ? new Date(data.started).toLocaleString() : "";
    return h(
      "header",
      {},
      h("h1", {}, "Provium report"),
      h(
        "div",
        { class: "summary", id: "summary" },
        h("span", { class: "chip passed" }, `${s.passed} passed`),
        h("span", { class: "chip failed" }, `${s.failed} failed`),
        h("span", { class: "chip skipped" }, `${s.skipped} skipped`),
        h("span", { class: "dim" }, `${s.files} files, ${ms(s.durationMs)}${when ? `, ${when}` : ""}`),
      ),
    );
  }

  function toolbar() {
    const statusButtons = ["all", "failed", "passed", "skipped"].map((st) =>
      h("button", { class: `status-filter ${st}${state.status === st ? " on" : ""}`, "data-status": st, onclick: () => ((state.status = st), render()) }, `${st} (${counts[st]})`),
    );
    const select = (id, label, values, key) =>
      h(
        "label",
        {},
        label,
        h("select", { id, onchange: (e) => ((state[key] = e.target.value), render()) }, h("option", { value: "" }, "all"), values.map((v) => h("option", { value: v, selected: state[key] === v }, v))),
      );
    const search = h("input", { id: "search", type: "search", placeholder: "search names", value: state.text });
    search.addEventListener("input", (e) => {
      state.text = e.target.value;
      renderList();
    });
    return h("nav", { class: "toolbar" }, statusButtons, select("file-filter", "file ", fileNames, "file"), tagNames.length ? select("tag-filter", "tag ", tagNames, "tag") : null, search);
  }

  function list() {
    const ul = h("div", { id: "tests" });
    let lastFile = null;
    let shown = 0;
    for (const t of tests) {
      if (!visible(t)) continue;
      shown++;
      if (t.file !== lastFile) ul.append(h("div", { class: "file" }, t.file));
      lastFile = t.file;
      const mark = t.status === "passed" ? "✓" : t.status === "failed" ? "✗" : "–";
      ul.append(
        h(
          "a",
          { class: `test ${t.status}${location.hash === `#${t.id}` ? " selected" : ""}`, href: `#${t.id}`, "data-id": t.id, "data-status": t.status },
          h("span", { class: "mark" }, mark),
          h("span", { class: "name" }, t.name),
          t.tags.map((g) => h("span", { class: "tag" }, g)),
          h("span", { class: "dur" }, ms(t.duration_ms)),
        ),
      );
    }
    if (!shown) ul.append(h("p", { class: "dim" }, "no test matches the filters"));
    return ul;
  }

  function section(cls, title, ...body) {
    return h("section", { class: cls }, h("h3", {}, title), ...body);
  }

  function timeline(t, title = "Timeline", cls = "timeline") {
    const ops = t.timeline || [];
    if (!ops.length) return section(cls, title, h("p", { class: "dim" }, "no VM operations"));
    const t0 = Math.min(t.started ?? ops[0].at, ops[0].at);
    const span = Math.max(1, ...ops.map((o) => o.at - t0 + o.ms));
    const rows = ops.map((o) =>
      h(
        "tr",
        { class: o.ok ? "op" : "op bad" },
        h("td", { class: "at" }, `+${ms(o.at - t0)}`),
        h("td", { class: "bar" }, h("span", { style: `margin-left:${(100 * (o.at - t0)) / span}%;width:${Math.max(0.5, (100 * o.ms) / span)}%` })),
        h("td", { class: "vm" }, o.vm || ""),
        h("td", { class: "opname" }, o.op),
        h("td", { class: "what" }, o.out || o.err ? h("details", {}, h("summary", {}, o.what), h("pre", {}, o.err || o.out)) : o.what),
        h("td", { class: "ms" }, ms(o.ms)),
      ),
    );
    return section(
      `${cls} timeline`,
      `${title} (${ops.length} op${ops.length === 1 ? "" : "s"}${t.timeline_dropped ? `, ${t.timeline_dropped} earlier ones left out` : ""})`,
      h("table", {}, h("thead", {}, h("tr", {}, ["start", "", "vm", "op", "what (click for output)", "took"].map((c) => h("th", {}, c)))), h("tbody", {}, rows)),
    );
  }

  function detail(t) {
    if (!t) return h("div", { id: "detail", class: "empty" }, h("p", { class: "dim" }, tests.some((x) => x.status === "failed") ? "Pick a test; failed ones are in red." : "Pick a test."));
    const parts = [
      h("h2", {}, h("span", { class: `badge ${t.status}` }, t.status), " ", t.name),
      h("p", { class: "where" }, t.file, t.duration_ms !== undefined ? ` · ${ms(t.duration_ms)}` : "", t.tags.length ? ` · tags: ${t.tags.join(", ")}` : ""),
    ];
    if (t.meta && Object.keys(t.meta).length) parts.push(h("p", { class: "meta dim" }, `meta: ${JSON.stringify(t.meta)}`));
    if (t.status === "failed" || t.reason) {
      const text = t.traceback && t.traceback.includes(t.reason ?? "\u0000") ? t.traceback : [t.reason, t.traceback].filter(Boolean).join("\n");
      parts.push(section(t.status === "failed" ? "error" : "reason", t.status === "failed" ? "Error" : "Reason", h("pre", {}, withLocations(text || ""))));
    }
    for (const st of t.streams || []) parts.push(section("stream", `Open stream ${st.label} (opened at ${st.opened_at})${st.eof ? ", ended" : ""}: unread`, h("pre", {}, st.unread || "(nothing)")));
    if (t.kind === "test" || t.timeline) parts.push(timeline(t));
    // What the file's top level did (its VMs' boots, say), for the context of a test.
    const top = t.kind === "test" && data.files.find((f) => f.file === t.file && f.timeline && f.timeline.length);
    if (top) {
      const s = timeline({ timeline: top.timeline, started: top.timeline[0].at }, "The file's top level", "file-timeline");
      const fold = h("details", {}, h("summary", {}, s.querySelector("h3").textContent));
      s.querySelector("h3").remove();
      fold.append(...s.childNodes);
      parts.push(h("section", { class: "file-timeline" }, fold));
    }
    if (t.consoles && t.consoles.length)
      parts.push(section("console", "Console (last lines after the firmware's)", t.consoles.map((c) => h("div", { class: "vm-console" }, h("h4", {}, `vm ${c.vm}`), h("pre", {}, consoleText(c.tail))))));
    if (t.logs.length) parts.push(section("logs", "Log", h("pre", {}, t.logs.map((l) => l.message.replace(/\n$/, "")).join("\n"))));
    if (t.attachments.length)
      parts.push(
        section(
          "attachments",
          "Attachments",
          h(
            "ul",
            {},
            t.attachments.map((a) =>
              h(
                "li",
                {},
                h("a", { href: a.href, download: a.name }, a.name),
                ` ${bytes(a.bytes)}${a.truncated ? " (cut)" : ""}${a.source ? ` from ${a.source}` : ""}`,
                a.preview !== undefined ? h("details", {}, h("summary", {}, "show"), h("pre", {}, a.preview)) : null,
              ),
            ),
          ),
        ),
      );
    return h("div", { id: "detail" }, parts);
  }

  let listEl, detailEl;
  function renderList() {
    const fresh = list();
    listEl.replaceWith(fresh);
    listEl = fresh;
  }
  function renderDetail() {
    const id = location.hash.slice(1);
    const fresh = detail(tests.find((t) => t.id === id));
    detailEl.replaceWith(fresh);
    detailEl = fresh;
    for (const a of listEl.querySelectorAll(".test")) a.classList.toggle("selected", a.dataset.id === id);
  }
  function render() {
    document.body.querySelector("#app")?.remove();
    listEl = list();
    detailEl = h("div", { id: "detail" });
    document.body.append(h("div", { id: "app" }, header(), toolbar(), h("main", {}, listEl, detailEl)));
    renderDetail();
  }
  window.addEventListener("hashchange", renderDetail);
  render();
})();
