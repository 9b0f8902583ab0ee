// Nova's datetimes as its JSON shows them (what the views and the usage sums print).

/** Nova's datetime as its JSON shows it (ISO 8601, microseconds, no zone). */
export const novaTime = (s: string | null | undefined): string | null => {
  if (!s) return null;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?/.exec(s);
  return m ? `${m[1]}.${(m[2] ?? '').padEnd(6, '0').slice(0, 6)}` : s;
};
