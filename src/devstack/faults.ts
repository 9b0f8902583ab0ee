// Fault injection for every service, as Mimic's behaviours and LocalStack's chaos API: rules
// that make chosen requests fail (with the service's own error body), or wait before they are
// served. Rules come from stratus.yaml (`devstack.faults`) and from the admin-only API
// /stratus/faults (when `devstack.faultApi` is on).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../core/errors.ts';
import { compileSchema } from '../core/validate.ts';
import type { TokenValidator } from '../core/auth.ts';

export interface FaultRule {
  /** Service folder name or type glob ('compute', 'net*'); default any. */
  service?: string;
  /** HTTP method ('POST'); default any. */
  method?: string;
  /** Glob on the path below the service's prefix ('/v2.1/servers', '/v2.0/ports*'); default any. */
  path?: string;
  /** Glob on the resource name in the request body ({"server": {"name": ...}} or {"name": ...}); default any. */
  name?: string;
  /** 'fail' answers an error; 'delay' (alias 'slow', 'stall') waits `delayMs` and then serves the request. */
  action: 'fail' | 'delay' | 'slow' | 'stall';
  /** The error status of 'fail' (default 500). */
  status?: number;
  /** The error message of 'fail'. */
  message?: string;
  /** The wait of 'delay' in ms (default 2000). */
  delayMs?: number;
  /** The share of matching requests affected, 0 to 1 (default 1). */
  rate?: number;
  /** How many matching requests are affected before the rule retires (default unlimited). */
  count?: number;
}

export interface ActiveFault extends FaultRule {
  id: number;
  /** Requests this rule has affected. */
  hits: number;
}

export const FAULT_RULE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['action'],
  properties: {
    service: { type: 'string', minLength: 1 },
    method: { type: 'string', pattern: '^[A-Za-z]+$' },
    path: { type: 'string', minLength: 1 },
    name: { type: 'string' },
    action: { enum: ['fail', 'delay', 'slow', 'stall'] },
    status: { type: 'integer', minimum: 400, maximum: 599 },
    message: { type: 'string' },
    delayMs: { type: 'integer', minimum: 0, maximum: 600000 },
    rate: { type: 'number', minimum: 0, maximum: 1 },
    count: { type: 'integer', minimum: 1 },
  },
} as const;

/** A shell-like glob ('*' any run, '?' one character) as a whole-string test. */
export function globTest(glob: string, s: string): boolean {
  const re = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(s);
}

/** The resource name a request body carries: `{"server": {"name": ...}}`, `{"name": ...}`. */
export function bodyName(body: unknown): string | undefined {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const b = body as Record<string, unknown>;
  if (typeof b.name === 'string') return b.name;
  for (const v of Object.values(b))
    if (v && typeof v === 'object' && !Array.isArray(v) && typeof (v as Record<string, unknown>).name === 'string')
      return (v as Record<string, string>).name;
  return undefined;
}

const DEFAULT_MESSAGES: Record<number, string> = {
  500: 'An unexpected error prevented the server from fulfilling your request. (injected fault)',
  503: 'The service is unavailable. (injected fault)',
};

export class FaultInjector {
  private rules: ActiveFault[] = [];
  private nextId = 1;
  constructor(
    initial: FaultRule[] = [],
    private random: () => number = Math.random,
  ) {
    for (const r of initial) this.add(r);
  }

  /** Adds a rule (validated); returns it with its id. */
  add(rule: FaultRule): ActiveFault {
    const validate = compileSchema(FAULT_RULE_SCHEMA);
    if (!validate(rule)) {
      const e = validate.errors?.[0];
      throw new ApiError(400, `Invalid fault rule: ${e?.instancePath || 'rule'} ${e?.message ?? 'is invalid'}`);
    }
    const active: ActiveFault = { ...rule, id: this.nextId++, hits: 0 };
    this.rules.push(active);
    return active;
  }

  list(): ActiveFault[] {
    return this.rules.map((r) => ({ ...r }));
  }

  remove(id: number): boolean {
    const n = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length < n;
  }

  clear() {
    this.rules = [];
  }

  /** The rule that applies to a request, counted as a hit; undefined when none does. */
  match(req: {
    service?: { name: string; type: string };
    method: string;
    path: string;
    body?: unknown;
  }): ActiveFault | undefined {
    for (const r of this.rules) {
      if (r.count !== undefined && r.hits >= r.count) continue;
      if (
        r.service &&
        !(req.service && (globTest(r.service, req.service.name) || globTest(r.service, req.service.type)))
      )
        continue;
      if (r.method && r.method.toUpperCase() !== req.method.toUpperCase()) continue;
      if (r.path && !globTest(r.path, req.path)) continue;
      if (r.name !== undefined) {
        const n = bodyName(req.body);
        if (n === undefined || !globTest(r.name, n)) continue;
      }
      if (r.rate !== undefined && this.random() >= r.rate) continue;
      r.hits++;
      return r;
    }
    return undefined;
  }

  /**
   * The hook that applies the rules (a preHandler of the whole app: it runs after the service's
   * authentication, so a fault never hides a 401, and its error is the service's own body).
   */
  install(app: FastifyInstance) {
    app.addHook('preHandler', async (req: FastifyRequest, _reply: FastifyReply) => {
      if (!this.rules.length || !req.service) return;
      const prefix = req.service.prefix;
      const pathOnly = req.url.split('?')[0]!;
      const rule = this.match({
        service: { name: req.service.module.catalogEntry.name, type: req.service.module.catalogEntry.type },
        method: req.method,
        path: prefix && pathOnly.startsWith(prefix) ? pathOnly.slice(prefix.length) || '/' : pathOnly,
        body: req.body,
      });
      if (!rule) return;
      req.log.warn({ fault: rule.id, action: rule.action }, 'injected fault');
      if (rule.action === 'fail') {
        const status = rule.status ?? 500;
        throw new ApiError(status, rule.message ?? DEFAULT_MESSAGES[status] ?? `Injected fault (${status}).`);
      }
      await new Promise((r) => setTimeout(r, rule.delayMs ?? 2000));
    });
  }
}

/** Whether a caller may use the test helpers' admin API: the admin role, on a project or the system. */
export async function requireAdmin(req: FastifyRequest, validator: TokenValidator): Promise<void> {
  const token = req.headers['x-auth-token'];
  if (typeof token !== 'string' || !token)
    throw new ApiError(401, 'The request you have made requires authentication.');
  let ctx: Awaited<ReturnType<TokenValidator['validate']>>;
  try {
    ctx = await validator.validate(token);
  } catch {
    throw new ApiError(401, 'The request you have made requires authentication.');
  }
  if (!ctx.roles.includes('admin')) throw new ApiError(403, 'Only an admin may use /stratus.');
}
