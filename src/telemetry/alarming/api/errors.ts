// Aodh's error body (WSME's): {"error_message": {"faultstring", "faultcode", "debuginfo"}}.
import type { ApiError } from '../../../core/errors.ts';

export function errorBody(e: ApiError): unknown {
  return {
    error_message: {
      faultstring: e.message,
      faultcode: e.status >= 500 ? 'Server' : 'Client',
      debuginfo: null,
    },
  };
}
