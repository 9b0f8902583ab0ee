// One error type for every service; each service renders it in its own OpenStack body
// (Keystone's {"error": ...}, Nova's {"itemNotFound": ...}, Neutron's {"NeutronError": ...}).

export const STATUS_TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  410: 'Gone',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export class ApiError extends Error {
  /** `type` is the upstream exception name where a service exposes it (Neutron's NetworkNotFound, ...). */
  constructor(
    public status: number,
    message: string,
    public type?: string,
    public headers?: Record<string, string>,
  ) {
    super(message);
  }
  get title(): string {
    return STATUS_TITLES[this.status] ?? 'Error';
  }
}

export const badRequest = (msg: string, type?: string) => new ApiError(400, msg, type);
export const unauthorized = (msg = 'The request you have made requires authentication.', type?: string) =>
  new ApiError(401, msg, type);
export const forbidden = (msg = 'You are not authorized to perform the requested action.', type?: string) =>
  new ApiError(403, msg, type);
export const notFound = (msg: string, type?: string) => new ApiError(404, msg, type);
export const conflict = (msg: string, type?: string) => new ApiError(409, msg, type);

/** The fault names of OpenStack's wsgi Fault (nova and cinder api/openstack/wsgi.py), by status. */
const WSGI_FAULT_NAMES: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

/**
 * The body of OpenStack's wsgi Fault, as Nova and Cinder answer: `{"itemNotFound": {"code": 404,
 * "message": "..."}}`; an internal error (5xx but 501 and 503) shows the service's own text
 * instead of its message. `names` adds the statuses one service names besides (Nova's 429).
 */
export function wsgiFaultBody(e: ApiError, internalMessage: string, names: Record<number, string> = {}): unknown {
  const name = names[e.status] ?? WSGI_FAULT_NAMES[e.status] ?? 'computeFault';
  const message = e.status >= 500 && e.status !== 501 && e.status !== 503 ? internalMessage : e.message;
  return { [name]: { code: e.status, message } };
}
