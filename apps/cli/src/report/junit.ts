// JUnit XML (the dialect CI tools read: testsuites > testsuite per file > testcase), built
// from events only, so a replay of saved events gives the same file.
import type { RunEvent } from "../events";
import { fileLabel } from "../matrix";

const esc = (s: string) =>
  s
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "") // not allowed in XML 1.0
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");

interface Case {
  name: string;
  time: number;
  meta?: Record<string, unknown>;
  failure?: { message: string; text: string };
  skipped?: string;
}

export function junitXml(events: RunEvent[]): string {
  const suites = new Map<string, { cases: Case[]; time: number; ts: number }>();
  const suite = (file: string, ts: number) => {
    let s = suites.get(file);
    if (!s) suites.set(file, (s = { cases: [], time: 0, ts }));
    return s;
  };
  for (const e of events) {
    if (!e.file) continue;
    const s = suite(fileLabel(e), e.ts); // one suite per file and matrix entry: "[lts] tests/x.test.lua"
    const time = (e.duration_ms ?? 0) / 1000;
    if (e.kind === "test_passed") s.cases.push({ name: e.test!, time, meta: e.meta });
    else if (e.kind === "test_skipped") s.cases.push({ name: e.test!, time: 0, meta: e.meta, skipped: e.reason ?? "" });
    else if (e.kind === "test_failed" || e.kind === "file_error") {
      const consoles = (e.consoles ?? []).filter((c) => c.tail.trim()).map((c) => `--- console of vm ${c.vm} ---\n${c.tail}`);
      s.cases.push({
        name: e.kind === "file_error" ? "(file)" : e.test!,
        time,
        meta: e.meta,
        failure: { message: (e.reason ?? "failed").split("\n")[0]!, text: [e.traceback ?? e.reason ?? "", ...consoles].join("\n") },
      });
    } else if (e.kind === "file_completed") s.time = time;
  }
  let total = 0, failures = 0, time = 0;
  const body: string[] = [];
  for (const [file, s] of suites) {
    const f = s.cases.filter((c) => c.failure).length;
    const sk = s.cases.filter((c) => c.skipped !== undefined).length;
    total += s.cases.length;
    failures += f;
    time += s.time;
    body.push(
      `  <testsuite name="${esc(file)}" tests="${s.cases.length}" failures="${f}" errors="0" skipped="${sk}" time="${s.time.toFixed(3)}" timestamp="${new Date(s.ts).toISOString().slice(0, 19)}">`,
    );
    // CI schemas allow properties on suites only: each test's meta is "<test> › <key>".
    const props = s.cases.flatMap((c) => Object.entries(c.meta ?? {}).map(([k, v]) => [`${c.name} › ${k}`, typeof v === "string" ? v : JSON.stringify(v)]));
    if (props.length) {
      body.push("    <properties>");
      for (const [k, v] of props) body.push(`      <property name="${esc(k!)}" value="${esc(v!)}"/>`);
      body.push("    </properties>");
    }
    for (const c of s.cases) {
      body.push(`    <testcase classname="${esc(file)}" name="${esc(c.name)}" time="${c.time.toFixed(3)}">`);
      if (c.failure) body.push(`      <failure message="${esc(c.failure.message)}" type="failure">${esc(c.failure.text)}</failure>`);
      if (c.skipped !== undefined) body.push(`      <skipped message="${esc(c.skipped)}"/>`);
      body.push("    </testcase>");
    }
    body.push("  </testsuite>");
  }
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites name="provium" tests="${total}" failures="${failures}" errors="0" time="${time.toFixed(3)}">`,
    ...body,
    `</testsuites>`,
    "",
  ].join("\n");
}
