// Multi-factor rules and auth receipts (keystone/auth/core.py UserMFARulesValidator,
// keystone/receipt): a user with `multi_factor_auth_enabled` must pass every method of one of their
// `multi_factor_auth_rules`; a login that passes some methods but no rule gets a 401 with a receipt
// (Fernet, its own key repository, 5 minutes) in `Openstack-Auth-Receipt`, which a second request
// presents with the missing methods.
import path from 'node:path';
import { ApiError } from '../core/errors.ts';
import { isoMicro } from './backend.ts';
import { KeyRepository } from './token/keys.ts';
import { DEFAULT_AUTH_METHODS, InvalidToken, ReceiptFormatter, type ReceiptPayload } from './token/formatter.ts';
import type { IdentityService } from './service.ts';
import type { User } from './users.ts';

/** Stratus's `[auth] methods`: Keystone's defaults and totp at the end (as DevStack enables it). */
export const AUTH_METHODS: readonly string[] = [...DEFAULT_AUTH_METHODS, 'totp'];

/** Keystone's [receipt] expiration. */
export const RECEIPT_EXPIRATION = 300;
export const RECEIPT_HEADER = 'openstack-auth-receipt';

/** A 401 that carries a receipt: the auth route answers it with the receipt body and header. */
export class InsufficientAuthMethods extends ApiError {
  constructor(
    public receipt: string,
    public body: Record<string, unknown>,
    methods: string[],
    userId: string,
  ) {
    super(
      401,
      `Insufficient auth methods received for ${userId}. Auth Methods Provided: ${methods.join(', ')}.`,
      'InsufficientAuthMethods',
      { 'Openstack-Auth-Receipt': receipt },
    );
  }
}

/** The rules of a user that can be met (every method is an enabled one), empty lists dropped. */
export function validRules(user: User, enabled: readonly string[] = AUTH_METHODS): string[][] {
  const raw = user.options.multi_factor_auth_rules;
  if (!Array.isArray(raw)) return [];
  return raw
    .filter((r): r is string[] => Array.isArray(r) && r.every((m) => typeof m === 'string'))
    .map((r) => [...new Set(r)])
    .filter((r) => r.length && r.every((m) => enabled.includes(m)));
}

export class MfaManager {
  keys: KeyRepository;
  formatter: ReceiptFormatter;
  constructor(private s: IdentityService) {
    this.keys = new KeyRepository(
      path.join(s.config.dataDir, 'fernet-receipts'),
      s.config.identity.fernetMaxActiveKeys,
    );
    this.formatter = new ReceiptFormatter(this.keys, { authMethods: AUTH_METHODS });
  }

  init() {
    if (!this.keys.load().length) this.keys.setup();
  }

  /** The receipt a request presents (the Openstack-Auth-Receipt header), or 401 when it is not valid. */
  readReceipt(header: string | string[] | undefined): ReceiptPayload | undefined {
    const value = Array.isArray(header) ? header[0] : header;
    if (!value) return undefined;
    let p: ReceiptPayload;
    try {
      p = this.formatter.validate(value);
    } catch (e) {
      if (e instanceof InvalidToken) throw new ApiError(401, 'The auth receipt is not valid.', 'ReceiptNotFound');
      throw e;
    }
    if (p.expiresAt.getTime() <= Date.now())
      throw new ApiError(401, 'The auth receipt has expired.', 'ReceiptNotFound');
    return p;
  }

  /** Throws InsufficientAuthMethods when the user's MFA rules are on and `methods` meet none of them. */
  async enforce(user: User, methods: string[]) {
    if (user.options.multi_factor_auth_enabled !== true) return;
    const rules = validRules(user);
    if (!rules.length) return;
    if (rules.some((r) => r.every((m) => methods.includes(m)))) return;
    const now = new Date(Math.floor(Date.now() / 1000) * 1000);
    const expiresAt = new Date(now.getTime() + RECEIPT_EXPIRATION * 1000);
    const receipt = this.formatter.create({ userId: user.id, methods, expiresAt, issuedAt: now });
    const domain = await this.s.resource.find(user.domain_id);
    const body = {
      receipt: {
        methods,
        user: { domain: { id: user.domain_id, name: domain?.name ?? null }, id: user.id, name: user.name },
        expires_at: isoMicro(expiresAt),
        issued_at: isoMicro(now),
      },
      required_auth_methods: rules,
    };
    throw new InsufficientAuthMethods(receipt, body, methods, user.id);
  }
}
