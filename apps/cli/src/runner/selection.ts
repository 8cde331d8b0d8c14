// Which of a file's tests run: name filter, tags and slow tests.
export interface Selection {
  filter?: string;
  tags: string[];
  noTags: string[];
  includeSlow: boolean;
  /** --rerun-failed: per file (absolute path), the only tests to run; absent = all. */
  only?: Record<string, string[]>;
  /** `provium list`: report the selected tests without running them. */
  listOnly?: boolean;
}

export function verdict(sel: Selection, file: string, test: { name: string; meta: Record<string, unknown> }): string {
  const only = sel.only?.[file];
  if (only && !only.includes(test.name)) return "filtered";
  if (sel.filter && !test.name.includes(sel.filter)) return "filtered";
  const tags = Array.isArray(test.meta.tags) ? test.meta.tags.map(String) : [];
  if (sel.tags.length && !sel.tags.some((t) => tags.includes(t))) return "filtered";
  if (sel.noTags.some((t) => tags.includes(t))) return "filtered";
  if (test.meta.slow === true && !sel.includeSlow) return "slow (use --include-slow)";
  return sel.listOnly ? "list" : "run";
}
