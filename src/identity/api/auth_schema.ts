// Keystone's token_issue schema (keystone/auth/schema.py): the `auth` body of POST
// /v3/auth/tokens is checked before anything reads it, so a field of the wrong JSON type is a
// 400 naming the field, never a query built from it.
import { ApiError } from '../../core/errors.ts';
import { jsonschemaMessage, schemaError } from '../../core/validate.ts';
import type { AuthRequest } from '../token/auth_body.ts';

const idName = {
  type: 'object',
  properties: { id: { type: 'string' }, name: { type: 'string' } },
} as const;

/** A user or project by id, or by name in a domain, with what else the part has (a method's secret). */
const inDomain = <T extends object>(secret: T) =>
  ({
    type: 'object',
    properties: { id: { type: 'string' }, name: { type: 'string' }, ...secret, domain: idName },
  }) as const;

export const TOKEN_ISSUE_SCHEMA = {
  type: 'object',
  properties: {
    identity: {
      type: 'object',
      properties: {
        methods: { type: 'array', items: { type: 'string' } },
        password: { type: 'object', properties: { user: inDomain({ password: { type: 'string' } }) } },
        token: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        application_credential: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            secret: { type: 'string' },
            user: inDomain({}),
          },
        },
        totp: { type: 'object', properties: { user: inDomain({ passcode: { type: 'string' } }) } },
      },
      required: ['methods'],
    },
    scope: {
      // 'unscoped' is a string scope.
      type: ['object', 'string'],
      properties: {
        project: inDomain({}),
        domain: idName,
        'OS-TRUST:trust': { type: 'object', properties: { id: { type: 'string' } } },
        system: { type: 'object', properties: { all: { type: 'boolean' } } },
      },
    },
  },
  required: ['identity'],
} as const;

/** Keystone's SchemaValidationError for a bad `auth` body: `Invalid input for field 'identity/password/user/name': ...`. */
export function validateAuthBody(auth: unknown): asserts auth is AuthRequest {
  const e = schemaError(auth, TOKEN_ISSUE_SCHEMA);
  if (!e) return;
  const parts = e.instancePath.split('/').filter(Boolean);
  const message = jsonschemaMessage(e);
  throw new ApiError(
    400,
    parts.length ? `Invalid input for field '${parts.join('/')}': ${message}` : message,
    'ValidationError',
  );
}
