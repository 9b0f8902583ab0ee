// What Swift's middlewares read of a request (upstream they share the WSGI environ): built once
// by the handler layer (api/request.ts) from the HTTP request, so that ACLs, temp URLs and
// symlinks run on plain values and the request context, never on the HTTP request itself.
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestContext } from '../core/context.ts';
import type { AccountAcl } from './acl.ts';
import type { ObjectRow } from './store.ts';

export interface SwiftRequest {
  readonly method: string;
  /** The path and query as the client sent them. */
  readonly url: string;
  /**
   * Lower-cased names, as Node gives them. The HTTP request's own object: a handler that strips
   * owner-only headers strips them for every middleware after it, as one environ does upstream.
   */
  readonly headers: IncomingHttpHeaders;
  readonly query: Readonly<Record<string, string | undefined>>;
  /** The path's names, percent-decoded ('' container / object above their level). */
  readonly account: string;
  readonly container: string;
  readonly object: string;
  readonly context: RequestContext;
  /** The service's path prefix as the request reached it ('' on its own port); temp URLs may sign it. */
  readonly servicePrefix: string;
  /** The body as the content-type parser handed it on: a stream of the bytes sent (none for bodiless methods). */
  readonly body: unknown;
  /** Account ACLs loaded for this request, by account (undefined: none set). */
  accountAcls?: Map<string, AccountAcl | undefined>;
}

/** What a middleware answers in the handler's place; the handler layer writes it (api/request.ts). */
export interface SwiftResponse {
  status: number;
  /** Written in this order. */
  headers?: Record<string, string>;
  type?: string;
  body?: string;
  /** Answered as a GET (or HEAD) of this object would be, large objects included. */
  serve?: ObjectRow;
  /** This object's bytes are the body. */
  stream?: ObjectRow;
}
