// Gnocchi's time vocabulary: timespans as pytimeparse reads them ("1 minute", "5min", "0:01:00",
// "3600"), shown as Python's str(timedelta) ("0:01:00", "1 day, 0:00:00"); timestamps as
// Gnocchi's utils.to_timestamp reads them (ISO 8601, epoch seconds, "now", "-5 minutes")
// and shows them ("2015-03-06T14:33:00+00:00"). Times are seconds (floats) internally.
import { ApiError } from '../../core/errors.ts';

const UNITS: Array<[RegExp, number]> = [
  [/^(w|wk|wks|week|weeks)$/, 604800],
  [/^(d|dy|dys|day|days)$/, 86400],
  [/^(h|hr|hrs|hour|hours)$/, 3600],
  [/^(m|min|mins|minute|minutes)$/, 60],
  [/^(s|sec|secs|second|seconds)$/, 1],
  [/^(ms|millisecond|milliseconds)$/, 0.001],
];

/** Seconds of a timespan, or undefined when it is not one. */
export function parseTimespan(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim().toLowerCase();
  if (!s) return undefined;
  if (/^[+-]?\d+(\.\d+)?$/.test(s)) return Number(s);
  // [D day[s], ]H:MM[:SS[.fff]]
  const clock = /^(?:(\d+)\s*days?,?\s*)?(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?$/.exec(s);
  if (clock)
    return Number(clock[1] ?? 0) * 86400 + Number(clock[2]) * 3600 + Number(clock[3]) * 60 + Number(clock[4] ?? 0);
  let total = 0;
  let matched = false;
  const re = /\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*,?/y;
  let pos = 0;
  while (pos < s.length) {
    re.lastIndex = pos;
    const m = re.exec(s);
    if (!m) return undefined;
    const unit = UNITS.find(([r]) => r.test(m[2]!));
    if (!unit) return undefined;
    total += Number(m[1]) * unit[1];
    matched = true;
    pos = re.lastIndex;
  }
  return matched ? total : undefined;
}

/** Python's str(datetime.timedelta(seconds=s)). */
export function formatTimespan(sec: number): string {
  const days = Math.floor(sec / 86400);
  let rest = sec - days * 86400;
  const h = Math.floor(rest / 3600);
  rest -= h * 3600;
  const m = Math.floor(rest / 60);
  const s = rest - m * 60;
  const whole = Math.floor(s);
  const frac = Math.round((s - whole) * 1e6);
  const clock = `${h}:${String(m).padStart(2, '0')}:${String(whole).padStart(2, '0')}${frac ? `.${String(frac).padStart(6, '0')}` : ''}`;
  return days ? `${days} day${days === 1 ? '' : 's'}, ${clock}` : clock;
}

/** Seconds since the epoch of a timestamp Gnocchi accepts, or undefined. `now` is for relative ones. */
export function parseTimestamp(v: unknown, now = Date.now() / 1000): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string') return undefined;
  const s = v.trim();
  if (!s) return undefined;
  if (/^[+-]?\d+(\.\d+)?$/.test(s)) return Number(s);
  if (s.toLowerCase() === 'now') return now;
  if (s.startsWith('-') || s.startsWith('+')) {
    const d = parseTimespan(s.slice(1));
    return d === undefined ? undefined : now + (s[0] === '-' ? -d : d);
  }
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(
    s,
  );
  if (!m) return undefined;
  const frac = m[7] ? Number(`0.${m[7]}`) : 0;
  let t =
    Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)) /
    1000;
  if (Number.isNaN(t)) return undefined;
  const tz = m[8];
  if (tz && tz.toUpperCase() !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.slice(1).replace(':', '');
    t -= sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2)) * 60);
  }
  return t + frac;
}

/** A query/body timestamp, or a 400 naming the parameter. */
export function requireTimestamp(v: unknown, what: string): number {
  const t = parseTimestamp(v);
  if (t === undefined) throw new ApiError(400, `Invalid value for ${what}: Unable to parse timestamp ${String(v)}`);
  return t;
}

/** Gnocchi's timestamp rendering: ISO 8601 with the UTC offset. */
export function formatTimestamp(sec: number): string {
  const ms = Math.round(sec * 1e6) / 1e3;
  const iso = new Date(Math.floor(ms)).toISOString();
  const micro = Math.round((sec - Math.floor(sec)) * 1e6);
  return `${iso.slice(0, 19)}${micro ? `.${String(micro).padStart(6, '0')}` : ''}+00:00`;
}
