// Heat's errors: each has the upstream exception name (the `type` of Heat's error body) and the
// status heat.api.middleware.fault maps it to. They travel over RPC by name (remoteType), so
// an engine in another process fails a request with the same body.
import { ApiError } from '../core/errors.ts';
import { RpcError } from '../core/bus.ts';

/** Heat's fault map: exception name → HTTP status (heat/api/middleware/fault.py). */
const STATUS_OF: Record<string, number> = {
  AttributeError: 400,
  ActionInProgress: 409,
  ActionNotComplete: 409,
  EntityNotFound: 404,
  NotFound: 404,
  StackNotFound: 404,
  ResourceNotFound: 404,
  ResourceTypeNotFound: 404,
  SnapshotNotFound: 404,
  NotSupported: 400,
  StackExists: 409,
  StackValidationFailed: 400,
  InvalidTemplateReference: 400,
  InvalidTemplateVersion: 400,
  InvalidTemplateSection: 400,
  UnknownUserParameter: 400,
  UserParameterMissing: 400,
  MissingCredentialError: 400,
  ResourcePropertyConflict: 400,
  PropertyUnspecifiedError: 400,
  ResourceActionNotSupported: 400,
  ResourceActionRestricted: 400,
  ValidationError: 400,
  HTTPBadRequest: 400,
  Forbidden: 403,
  HTTPForbidden: 403,
  ImmutableParameterModified: 400,
  InvalidGlobalResource: 500,
  RequestLimitExceeded: 400,
  InvalidRestrictedAction: 400,
  NotAuthorized: 403,
  Invalid: 400,
};

/** An error of the engine or the API, named as Heat names it. */
export class HeatError extends Error {
  constructor(
    public readonly type: string,
    message: string,
  ) {
    super(message);
  }
  get remoteType() {
    return this.type;
  }
}

export const stackNotFound = (name: string) =>
  new HeatError('EntityNotFound', `The Stack (${name}) could not be found.`);
export const resourceNotFound = (name: string, stack: string) =>
  new HeatError('EntityNotFound', `The Resource (${name}) could not be found in Stack ${stack}.`);
export const validationFailed = (message: string) => new HeatError('StackValidationFailed', message);
export const actionInProgress = (stack: string, action: string) =>
  new HeatError('ActionInProgress', `Stack ${stack} already has an action (${action}) in progress.`);

/** Anything thrown below a handler (also over RPC) as the API error Heat answers. */
export function toHeatApiError(e: unknown): unknown {
  if (e instanceof HeatError) return new ApiError(STATUS_OF[e.type] ?? 500, e.message, e.type);
  if (e instanceof RpcError && e.remoteType && STATUS_OF[e.remoteType])
    return new ApiError(STATUS_OF[e.remoteType]!, e.message, e.remoteType);
  return e;
}

const EXPLANATIONS: Record<number, string> = {
  400: 'The server could not comply with the request since it is either malformed or otherwise incorrect.',
  401: 'This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.',
  403: 'Access was denied to this resource.',
  404: 'The resource could not be found.',
  405: 'The method specified is not allowed for this resource.',
  409: 'There was a conflict when trying to complete your request.',
  413: 'The request is larger than the server is willing or able to process.',
  415: 'The request media type is not supported by this server.',
  500: 'The server has either erred or is incapable of performing the requested operation.',
  503: 'The server is currently unavailable. Please try again at a later time.',
};

/** Heat's error body (heat/api/middleware/fault.py). */
export function heatErrorBody(e: ApiError) {
  const defaultType: Record<number, string> = {
    400: 'HTTPBadRequest',
    401: 'HTTPUnauthorized',
    403: 'Forbidden',
    404: 'HTTPNotFound',
    405: 'HTTPMethodNotAllowed',
    409: 'HTTPConflict',
    413: 'RequestLimitExceeded',
    415: 'HTTPUnsupportedMediaType',
    500: 'HTTPInternalServerError',
    503: 'HTTPServiceUnavailable',
  };
  return {
    explanation: EXPLANATIONS[e.status] ?? e.title,
    code: e.status,
    error: { message: e.message, traceback: null, type: e.type ?? defaultType[e.status] ?? 'Error' },
    title: e.title,
  };
}
