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
