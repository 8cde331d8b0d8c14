// Which of a file's tests run: name filter, tags and slow tests.
export interface Selection {
  filter?: string;
  tags: string[];
  noTags: string[];
  includeSlow: boolean;
}

export function verdict(sel: Selection, test: { name: string; meta: Record<string, unknown> }): string {
  if (sel.filter && !test.name.includes(sel.filter)) return "filtered";
  const tags = Array.isArray(test.meta.tags) ? test.meta.tags.map(String) : [];
  if (sel.tags.length && !sel.tags.some((t) => tags.includes(t))) return "filtered";
  if (sel.noTags.some((t) => tags.includes(t))) return "filtered";
  if (test.meta.slow === true && !sel.includeSlow) return "slow (use --include-slow)";
  return "run";
}
