#!/usr/bin/env node
// `npm run conformance -- <area|regex>`: runs Tempest against a Stratus; sources run through tsx, no build step.
import { register } from 'tsx/esm/api';
register();
await import('../conformance/lib/main.ts');
