// JSON as Python's json.dumps writes it (", " and ": " separators): what Gnocchi answers and
// what Aodh stores in alarm history details, which clients and gabbi tests compare as text.

/** Python's json.dumps(v) with its default separators. */
export function pyJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
    return JSON.stringify(v);
  }
  if (typeof v === 'string' || typeof v === 'boolean') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof (o as { toJSON?: unknown }).toJSON === 'function') return pyJson((o as { toJSON(): unknown }).toJSON());
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}: ${pyJson(o[k])}`)
      .join(', ')}}`;
  }
  return 'null';
}
