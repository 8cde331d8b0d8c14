// The HTML report (`provium --html DIR`, `provium report --html DIR EVENTS`): one static page
// that opens from file:// with no server and nothing fetched (its script, style and data are
// inlined), and the tests' attachments beside it. Built from events only, so a replay of saved
// events gives the same report. No library: the page is ~300 lines of plain DOM code.
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { summarize, type RunEvent, type Summary } from "../events";
import type { OpRecord } from "@provium/host-runtime";
import pageScript from "./page/report.js" with { type: "text" };
import pageStyle from "./page/report.css" with { type: "text" };

export interface ReportAttachment {
  name: string;
  /** relative to the report's index.html */
  href: string;
  bytes: number;
  truncated: boolean;
  source?: string;
  /** its first bytes as text, when it is text */
  preview?: string;
}

export interface ReportTest {
  id: string;
  file: string;
  /** "(file)" for a file-level failure */
  name: string;
  kind: "test" | "file";
  status: "passed" | "failed" | "skipped";
  started?: number;
  duration_ms?: number;
  meta?: Record<string, unknown>;
  tags: string[];
  reason?: string;
  traceback?: string;
  consoles?: { vm: string; tail: string }[];
  timeline?: OpRecord[];
  timeline_dropped?: number;
  streams?: unknown;
  logs: { ts: number; message: string }[];
  attachments: ReportAttachment[];
}

export interface ReportModel {
  version: 1;
  started: number;
  summary: Summary;
  files: { file: string; duration_ms?: number; timeline?: OpRecord[] }[];
  tests: ReportTest[];
}

const PREVIEW_MAX = 16 * 1024;

// A file name safe on any filesystem, unique in the report.
const safe = (s: string) => s.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80) || "attachment";

function isText(bytes: Uint8Array) {
  const head = bytes.subarray(0, 4096);
  if (head.includes(0)) return false;
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(head.length < bytes.length ? head.subarray(0, head.length - 4) : head);
    return true;
  } catch {
    return false;
  }
}

/** The report's data: one entry per test (and per file-level failure), in run order; attachment bytes by href. */
export function reportModel(events: RunEvent[]): { model: ReportModel; files: Map<string, Uint8Array> } {
  const tests: ReportTest[] = [];
  const byKey = new Map<string, ReportTest>();
  const blobs = new Map<string, Uint8Array>();
  const files: ReportModel["files"] = [];
  const key = (file: string | undefined, test: string | undefined) => `${file ?? ""}\u0000${test ?? ""}`;
  const entry = (e: RunEvent, kind: ReportTest["kind"] = "test") => {
    const k = key(e.file, kind === "file" ? "\u0001file" : e.test);
    let t = byKey.get(k);
    if (!t) {
      const tags = Array.isArray(e.meta?.tags) ? (e.meta!.tags as unknown[]).map(String) : [];
      t = { id: `t${tests.length + 1}`, file: e.file ?? "", name: kind === "file" ? "(file)" : e.test!, kind, status: "passed", tags, meta: e.meta, logs: [], attachments: [] };
      tests.push(t);
      byKey.set(k, t);
    }
    return t;
  };
  let started = 0;
  for (const e of events) {
    switch (e.kind) {
      case "run_started":
        started = e.ts;
        break;
      case "test_started":
        entry(e).started = e.ts;
        break;
      case "test_passed":
      case "test_failed":
      case "test_skipped": {
        const t = entry(e);
        t.status = e.kind === "test_passed" ? "passed" : e.kind === "test_failed" ? "failed" : "skipped";
        Object.assign(t, pick(e, ["duration_ms", "reason", "traceback", "consoles", "timeline", "timeline_dropped", "streams"]));
        t.started ??= e.duration_ms !== undefined ? e.ts - e.duration_ms : e.ts;
        break;
      }
      case "file_error": {
        const t = entry(e, "file");
        t.status = "failed";
        t.started = e.ts;
        Object.assign(t, pick(e, ["reason", "traceback", "consoles", "timeline", "timeline_dropped"]));
        break;
      }
      case "file_completed":
        files.push({ file: e.file ?? "", duration_ms: e.duration_ms, timeline: e.timeline });
        break;
      case "log":
        if (e.test) entry(e).logs.push({ ts: e.ts, message: String(e.message ?? "") });
        break;
      case "attachment": {
        const t = entry(e);
        const bytes = Buffer.from(String(e.data ?? ""), "base64");
        const href = `attachments/${blobs.size + 1}-${safe(String(e.name))}`;
        blobs.set(href, bytes);
        t.attachments.push({
          name: String(e.name),
          href,
          bytes: Number(e.bytes ?? bytes.length),
          truncated: !!e.truncated,
          source: e.source as string | undefined,
          preview: isText(bytes) ? bytes.subarray(0, PREVIEW_MAX).toString("utf8") : undefined,
        });
        break;
      }
    }
  }
  // Files in path order (they finish in any order when run in parallel), tests in run order.
  const order = (t: ReportTest) => t.file;
  tests.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  files.sort((a, b) => (a.file < b.file ? -1 : 1));
  return { model: { version: 1, started, summary: summarize(events), files, tests }, files: blobs };
}

function pick(e: RunEvent, keys: string[]) {
  return Object.fromEntries(keys.filter((k) => e[k] !== undefined).map((k) => [k, e[k]]));
}

/** The page itself: data, script and style inlined; `</` in the data cannot end its script element. */
export function reportPage(model: ReportModel): string {
  const data = JSON.stringify(model).replace(/</g, "\\u003c").replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
  const s = model.summary;
  const title = `Provium: ${s.passed} passed, ${s.failed} failed${s.skipped ? `, ${s.skipped} skipped` : ""}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${pageStyle}</style>
</head>
<body>
<noscript>This report needs JavaScript (it runs from the file itself; nothing is fetched).</noscript>
<script id="provium-data" type="application/json">${data}</script>
<script>${pageScript}</script>
</body>
</html>
`;
}

/** Writes DIR/index.html and DIR/attachments/ (replacing an earlier report's); returns the page's path. */
export function writeHtmlReport(dir: string, events: RunEvent[]): string {
  const { model, files } = reportModel(events);
  mkdirSync(dir, { recursive: true });
  rmSync(join(dir, "attachments"), { recursive: true, force: true });
  if (files.size) mkdirSync(join(dir, "attachments"));
  for (const [href, bytes] of files) writeFileSync(join(dir, href), bytes);
  const page = join(dir, "index.html");
  writeFileSync(page, reportPage(model));
  return page;
}
