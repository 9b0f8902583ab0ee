// A service's own request-body parsers, in place of the app's (core/http.ts parses the two JSON
// content types, with the core wording for a body that is not JSON). Image, network, object-store
// and block-storage each say here which bodies they parse and which they stream.
import type { FastifyInstance } from 'fastify';
import { jsonBodyParser } from './http.ts';

export interface BodyParsers {
  /** The content types whose bodies are parsed whole as JSON ('*': every body). */
  json?: string | string[];
  /** The service's own error for a body that is not JSON. */
  malformed?: (err: Error) => Error;
  /** Every other body reaches the handler unread, as the request stream (Glance's image data, Swift's objects). */
  stream?: boolean;
}

export function setBodyParsers(app: FastifyInstance, p: BodyParsers) {
  app.removeAllContentTypeParsers();
  if (p.json) app.addContentTypeParser(p.json, { parseAs: 'string' }, jsonBodyParser(p.malformed ?? ((e) => e)));
  if (p.stream) app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
}
