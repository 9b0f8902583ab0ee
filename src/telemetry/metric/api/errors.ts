// Gnocchi's error body (webob's JSON error through pecan: {"code", "title", "description"}) and
// its JSON rendering, which is Python's json.dumps (", " and ": " separators, what clients and
// gabbi tests compare as text).
import { ApiError, STATUS_TITLES } from '../../../core/errors.ts';
export { pyJson } from '../../pyjson.ts';

/** The error body; a structured description (aggregates' {"cause", "reason", "detail"}) stays an object. */
export function errorBody(e: ApiError): unknown {
  let description: unknown = e.message;
  if (e.type === 'structured') {
    try {
      description = JSON.parse(e.message);
    } catch {
      /* plain text */
    }
  }
  return { code: e.status, description, title: STATUS_TITLES[e.status] ?? e.title };
}

export const badInput = (msg: string) => new ApiError(400, `Invalid input: ${msg}`);
