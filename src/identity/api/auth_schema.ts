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

export const TOKEN_ISSUE_SCHEMA = {
  type: 'object',
  properties: {
    identity: {
      type: 'object',
      properties: {
        methods: { type: 'array', items: { type: 'string' } },
        password: {
          type: 'object',
          properties: {
            user: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                name: { type: 'string' },
                password: { type: 'string' },
                domain: idName,
              },
            },
          },
        },
        token: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
        application_credential: {
          type: 'object',
          properties: {
            id: { type: 'string' },
            name: { type: 'string' },
            secret: { type: 'string' },
            user: {
              type: 'object',
              properties: { id: { type: 'string' }, name: { type: 'string' }, domain: idName },
            },
          },
        },
        totp: {
          type: 'object',
          properties: {
            user: {
              type: 'object',
              properties: {
                id: { type: 'string' },
                name: { type: 'string' },
                passcode: { type: 'string' },
                domain: idName,
              },
            },
          },
        },
      },
      required: ['methods'],
    },
    scope: {
      // 'unscoped' is a string scope.
      type: ['object', 'string'],
      properties: {
        project: {
          type: 'object',
          properties: { id: { type: 'string' }, name: { type: 'string' }, domain: idName },
        },
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
