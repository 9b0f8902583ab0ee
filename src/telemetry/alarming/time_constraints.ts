// Alarm time constraints: a cron expression for the start of each window and its duration;
// an alarm with constraints is evaluated only inside one of its windows. Times are UTC (a
// constraint's timezone is kept and shown, not applied).

function fieldMatches(expr: string, value: number, min: number, max: number): boolean {
  return expr.split(',').some((part) => {
    const [range, stepText] = part.split('/');
    const step = stepText ? Number(stepText) : 1;
    let lo = min;
    let hi = max;
    if (range !== '*' && range !== undefined) {
      const [a, b] = range.split('-');
      lo = Number(a);
      hi = b !== undefined ? Number(b) : stepText ? max : lo;
    }
    if (Number.isNaN(lo) || Number.isNaN(hi) || !step) return false;
    return value >= lo && value <= hi && (value - lo) % step === 0;
  });
}

/** Whether a 5-field cron expression fires at this minute. */
export function cronMatches(expr: string, d: Date): boolean {
  const [min, hour, dom, mon, dow] = expr.trim().split(/\s+/);
  if (!min || !hour || !dom || !mon || !dow) return false;
  return (
    fieldMatches(min, d.getUTCMinutes(), 0, 59) &&
    fieldMatches(hour, d.getUTCHours(), 0, 23) &&
    fieldMatches(dom, d.getUTCDate(), 1, 31) &&
    fieldMatches(mon, d.getUTCMonth() + 1, 1, 12) &&
    (fieldMatches(dow, d.getUTCDay(), 0, 7) || (d.getUTCDay() === 0 && fieldMatches(dow, 7, 0, 7)))
  );
}

/** True without constraints, or when `now` is within `duration` seconds after a cron start. */
export function withinTimeConstraints(tcs: Array<Record<string, unknown>>, now: Date): boolean {
  if (!tcs.length) return true;
  return tcs.some((tc) => {
    const duration = Number(tc.duration ?? 0);
    const start = Math.floor(now.getTime() / 60000) * 60000;
    for (let t = start; t >= now.getTime() - duration * 1000 - 60000 && t > start - 7 * 86400000; t -= 60000)
      if (cronMatches(String(tc.start), new Date(t)) && now.getTime() < t + duration * 1000) return true;
    return false;
  });
}
