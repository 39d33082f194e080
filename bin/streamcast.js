#!/usr/bin/env node
// Runs the compiled dist/ when `npm run build` made it and no source file changed since (plain
// node: no TypeScript compiler loaded at start-up); otherwise the TypeScript sources through tsx,
// so the CLI works straight after `npm ci` and never runs a stale build after an edit.
import { readdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url);
const built = new URL('dist/main.js', root);

/** mtime of the newest file under `dir` (0 when there is none), or undefined when `dir` is absent. */
function newest(dir) {
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    if (err?.code === 'ENOENT') return undefined;
    throw err;
  }
  let max = 0;
  for (const e of entries) {
    if (!e.isFile()) continue;
    const t = statSync(`${e.parentPath ?? e.path}/${e.name}`).mtimeMs;
    if (t > max) max = t;
  }
  return max;
}

function builtMtime() {
  try {
    return statSync(built).mtimeMs;
  } catch (err) {
    if (err?.code === 'ENOENT') return undefined;
    throw err;
  }
}

const distTime = builtMtime();
const srcTime = distTime === undefined ? undefined : newest(fileURLToPath(new URL('src', root)));
// No src/ at all (an image or package with dist/ only) also means dist/.
if (distTime !== undefined && (srcTime === undefined || srcTime <= distTime)) {
  await import(built.href);
} else {
  let register;
  try {
    ({ register } = await import('tsx/esm/api'));
  } catch (err) {
    if (err?.code !== 'ERR_MODULE_NOT_FOUND') throw err;
    // tsx is a dev dependency: an install without them (npm ci --omit=dev) must run a build.
    process.stderr.write('streamcast: dist/ is missing or older than src/, and tsx (a dev dependency) is not installed; run `npm run build` (or `npm ci`)\n');
    process.exit(1);
  }
  register();
  await import(new URL('src/main.ts', root).href);
}
