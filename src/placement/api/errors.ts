// Placement's errors (placement/errors.py): the codes shown from 1.23 and the JSON error body.
import type { Microversion } from '../../core/http.ts';
import { ApiError, STATUS_TITLES } from '../../core/errors.ts';
import { MAX_VERSION, MIN_VERSION } from './microversion.ts';

/** Placement's error codes (placement.errors), shown in error bodies from 1.23. */
export const ErrorCode = {
  DEFAULT: 'placement.undefined_code',
  INVENTORY_INUSE: 'placement.inventory.inuse',
  CONCURRENT_UPDATE: 'placement.concurrent_update',
  DUPLICATE_NAME: 'placement.duplicate_name',
  PROVIDER_IN_USE: 'placement.resource_provider.inuse',
  PROVIDER_CANNOT_DELETE_PARENT: 'placement.resource_provider.cannot_delete_parent',
  RESOURCE_PROVIDER_NOT_FOUND: 'placement.resource_provider.not_found',
  ILLEGAL_DUPLICATE_QUERYPARAM: 'placement.query.duplicate_key',
  QUERYPARAM_BAD_VALUE: 'placement.query.bad_value',
  QUERYPARAM_MISSING_VALUE: 'placement.query.missing_value',
} as const;

/** An error with Placement's code (ApiError.type carries it). */
export const perr = (status: number, detail: string, code?: string) => new ApiError(status, detail, code);

/** Placement's JSON error body (API-WG errors guideline); `code` from 1.23. */
export function errorBody(e: ApiError, version?: Microversion, requestId?: string): unknown {
  const err: Record<string, unknown> = {
    status: e.status,
    title: STATUS_TITLES[e.status] ?? e.title,
    detail: e.message,
  };
  if (version && version.gte('1.23')) err.code = e.type && e.type.startsWith('placement.') ? e.type : ErrorCode.DEFAULT;
  if (requestId) err.request_id = requestId;
  if (e.status === 406 && !version) {
    err.max_version = MAX_VERSION;
    err.min_version = MIN_VERSION;
  }
  return { errors: [err] };
}
