// The friendly console: after the banner, one readable line per request on the terminal (JSON
// stays in the log file), with the reason of every 4xx/5xx answer, and warnings and errors.
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** The message of an OpenStack error body, whatever the service's shape (JSON or Swift's HTML/text). */
export function errorReason(payload: unknown): string | undefined {
  if (payload === undefined || payload === null) return undefined;
  const text = Buffer.isBuffer(payload) ? payload.toString('utf8') : typeof payload === 'string' ? payload : undefined;
  if (text === undefined) return undefined;
  try {
    const find = (v: unknown, depth: number): string | undefined => {
      if (depth > 4 || !v || typeof v !== 'object') return undefined;
      const o = v as Record<string, unknown>;
      for (const k of ['message', 'detail', 'faultstring', 'title'])
        if (typeof o[k] === 'string' && o[k]) return o[k] as string;
      for (const x of Array.isArray(v) ? v : Object.values(o)) {
        const f = find(x, depth + 1);
        if (f) return f;
      }
      return undefined;
    };
    return find(JSON.parse(text), 0);
  } catch {
    const plain = text
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    return plain ? plain.slice(0, 300) : undefined;
  }
}

/**
 * Records the reason of every error answer, as a `reason` log line just before the access line
 * (the file keeps it; the console puts it on the request's line).
 */
export function logErrorReasons(app: FastifyInstance) {
  app.addHook('onSend', async (req, reply, payload) => {
    if (reply.statusCode >= 400) {
      const reason = errorReason(payload);
      if (reason) req.log.info({ status: reply.statusCode, reason }, 'error answer');
    }
    return payload;
  });
}

const color = (code: number, s: string, on: boolean) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/** A pino destination printing one line per request (and warnings/errors) to `out`. */
export function prettyStream(out: NodeJS.WritableStream & { isTTY?: boolean }, colors = !!out.isTTY): Writable {
  const reasons = new Map<string, string>();
  let pending = '';
  const line = (rec: Record<string, unknown>) => {
    const time = new Date(typeof rec.time === 'number' ? rec.time : Date.now()).toISOString().slice(11, 19);
    const level = Number(rec.level ?? 30);
    const rid = typeof rec.request_id === 'string' ? rec.request_id : undefined;
    if (rec.msg === 'error answer' && rid) {
      reasons.set(rid, String(rec.reason));
      if (reasons.size > 1000) reasons.delete(reasons.keys().next().value as string);
      return;
    }
    if (rec.msg === 'request') {
      const status = Number(rec.status);
      const reason = rid ? reasons.get(rid) : undefined;
      if (rid) reasons.delete(rid);
      const st = color(status >= 500 ? 31 : status >= 400 ? 33 : 32, String(status), colors);
      const svc = typeof rec.service === 'string' ? ` ${rec.service}` : '';
      out.write(
        `${color(90, time, colors)} ${st} ${String(rec.method).padEnd(6)} ${rec.url} ${color(90, `${rec.ms} ms${svc}`, colors)}${reason ? ` — ${reason}` : ''}\n`,
      );
      return;
    }
    if (level < 40) return;
    const err = rec.err as { message?: string } | undefined;
    out.write(
      `${color(90, time, colors)} ${color(level >= 50 ? 31 : 33, LEVELS[level] ?? String(level), colors)} ${rec.msg ?? ''}${err?.message ? `: ${err.message}` : ''}${typeof rec.service === 'string' ? ` (${rec.service})` : ''}\n`,
    );
  };
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      pending += chunk.toString('utf8');
      let i = pending.indexOf('\n');
      while (i >= 0) {
        const text = pending.slice(0, i);
        pending = pending.slice(i + 1);
        try {
          line(JSON.parse(text) as Record<string, unknown>);
        } catch {
          /* not a JSON line */
        }
        i = pending.indexOf('\n');
      }
      cb();
    },
  });
}
