// Gnocchi's error body (webob's JSON error through pecan: {"code", "title", "description"}) and
// its JSON rendering, which is Python's json.dumps (", " and ": " separators, what clients and
// gabbi tests compare as text).
import { ApiError, STATUS_TITLES } from '../../../core/errors.ts';

/** The error body; a structured description (aggregates' {"cause", "reason", "detail"}) stays an object. */
export function errorBody(e: ApiError): unknown {
  let description: unknown = e.message;
  if (e.type === 'structured') {
    try {
      description = JSON.parse(e.message);
    } catch {
      /* plain text */
    }
  }
  return { code: e.status, description, title: STATUS_TITLES[e.status] ?? e.title };
}

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

export const badInput = (msg: string) => new ApiError(400, `Invalid input: ${msg}`);
