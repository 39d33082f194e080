#!/usr/bin/env node
// Runs the TypeScript sources through tsx so the CLI works straight after `npm ci`;
// `npm run build` also emits dist/ for images that prefer plain JavaScript.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
