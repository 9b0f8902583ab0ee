#!/usr/bin/env node
// The `stratus` command: TypeScript sources run through tsx's loader, so no build step.
import { register } from 'tsx/esm/api';
register();
await import('../src/cli.ts');
