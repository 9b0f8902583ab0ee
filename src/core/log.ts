// Structured JSON logs (pino). Secrets never reach a log line: the redaction list covers
// every header and body field that can carry a password or a token.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'req.headers["x-auth-token"]',
  'req.headers["x-subject-token"]',
  'req.headers["x-service-token"]',
  'req.headers.authorization',
  'headers["x-auth-token"]',
  'headers["x-subject-token"]',
  'password',
  '*.password',
  '*.*.password',
  '*.*.*.password',
  'token',
  '*.token',
  'secret',
  '*.secret',
  'original_password',
  '*.original_password',
  'adminPassword',
  '*.adminPassword',
];

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { pid: process.pid }, redact: { paths: REDACT_PATHS, censor: '***' } }, destination);
}

export type { Logger };
