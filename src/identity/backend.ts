// What every part of identity shares: the database, configuration, the bus, the key
// repositories, and a generation counter that any write affecting tokens bumps, so that
// cached token validations are dropped exactly when they may have changed.
import { randomUUID } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { IdentityDb } from './db/schema.ts';
import type { StratusConfig } from '../core/config.ts';
import type { MessageBus } from '../core/bus.ts';
import type { Logger } from '../core/log.ts';
import { ApiError } from '../core/errors.ts';
import { isUniqueViolation } from '../core/db.ts';

export const ROOT_DOMAIN = '<<keystone.domain.root>>';
export const NULL_DOMAIN = '<<null>>';
export const DEFAULT_DOMAIN = 'default';

export class IdentityBackend {
  generation = 0;
  /** Revokes every token of a user (set by the revocation manager). */
  revokeUser?: (userId: string) => void;
  private listeners: Array<() => void> = [];
  constructor(
    public db: Kysely<IdentityDb>,
    public config: StratusConfig,
    public bus: MessageBus,
    public log: Logger,
  ) {}

  /** Called after any write that may change a token's validity or content. */
  changed() {
    this.generation++;
    for (const l of this.listeners) l();
  }
  onChange(fn: () => void) {
    this.listeners.push(fn);
  }

  /** Keystone's CADF-style basic notifications: identity.<resource>.<created|updated|deleted>. */
  notify(resource: string, operation: 'created' | 'updated' | 'deleted' | 'disabled', id: string) {
    this.bus.notify('identity.stratus', `identity.${resource}.${operation}`, { resource_info: id });
  }
}

/** An update body as the API validated it: the fields it knows, typed, and any extra attributes. */
export type Patch<T> = T & { [key: string]: unknown };

export const newId = () => randomUUID().replace(/-/g, '');

export function notFound(kind: string, id: string, type = `${kind[0]!.toUpperCase()}${kind.slice(1)}NotFound`) {
  return new ApiError(404, `Could not find ${kind}: ${id}.`, type);
}

/** Keystone's 409 for a write that hit a unique constraint: `Conflict occurred attempting to store <kind> - <detail>.` */
export function storeConflict(kind: string, detail: string) {
  return new ApiError(409, `Conflict occurred attempting to store ${kind} - ${detail}.`, 'Conflict');
}

export function conflictDup(kind: string, field: string, value: string) {
  return storeConflict(kind, `Duplicate entry found with ${field} ${value}`);
}

/** Runs a write; a unique-constraint violation becomes Keystone's 409 for `kind`. */
export async function storing<T>(kind: string, detail: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (e) {
    if (isUniqueViolation(e)) throw storeConflict(kind, detail);
    throw e;
  }
}

/** Keystone's timestamp format: microseconds and a Z on token times. */
export function isoMicro(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
/** ...and without the Z on resource times (password_expires_at, trust expires_at). */
export function isoMicroNoZ(s: string | null | undefined): string | null {
  if (!s) return null;
  return new Date(s).toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}
