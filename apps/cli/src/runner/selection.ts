// Which of a file's tests run: name or path filter, tags, meta values and slow tests.
export interface Selection {
  /** --filter: a test runs when its name contains this, or its file's root-relative path does. */
  filter?: string;
  /** The files (absolute paths) whose root-relative path contains `filter`: all their tests run. */
  filterFiles?: string[];
  tags: string[];
  noTags: string[];
  /** --tag-meta KEY=VALUE: values of one key are alternatives; every key given must match. */
  tagMeta?: [string, string][];
  /** --no-tag-meta KEY=VALUE: any match filters the test out. */
  noTagMeta?: [string, string][];
  includeSlow: boolean;
  /** --rerun-failed: per file (absolute path), the only tests to run; absent = all. */
  only?: Record<string, string[]>;
  /** `provium list`: report the selected tests without running them. */
  listOnly?: boolean;
}

/** Upstream's reading of meta[key] for --tag-meta: a string is one value, a list its strings. */
export function metaHas(meta: Record<string, unknown>, key: string, wanted: string): boolean {
  const v = meta[key];
  if (typeof v === "string") return v === wanted;
  return Array.isArray(v) && v.some((x) => x === wanted);
}

function tagMetaMatches(pairs: [string, string][], meta: Record<string, unknown>) {
  const keys = new Set(pairs.map(([k]) => k));
  return [...keys].every((k) => pairs.some(([kk, v]) => kk === k && metaHas(meta, k, v)));
}

export function verdict(sel: Selection, file: string, test: { name: string; meta: Record<string, unknown> }): string {
  const only = sel.only?.[file];
  if (only && !only.includes(test.name)) return "filtered";
  if (sel.filter && !test.name.includes(sel.filter) && !sel.filterFiles?.includes(file)) return "filtered";
  const tags = Array.isArray(test.meta.tags) ? test.meta.tags.map(String) : [];
  if (sel.tags.length && !sel.tags.some((t) => tags.includes(t))) return "filtered";
  if (sel.noTags.some((t) => tags.includes(t))) return "filtered";
  if (sel.noTagMeta?.some(([k, v]) => metaHas(test.meta, k, v))) return "filtered";
  if (sel.tagMeta?.length && !tagMetaMatches(sel.tagMeta, test.meta)) return "filtered";
  if (test.meta.slow === true && !sel.includeSlow) return "slow (use --include-slow)";
  return sel.listOnly ? "list" : "run";
}
