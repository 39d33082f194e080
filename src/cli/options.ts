import { InvalidArgumentError } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { ConfigError } from '../domain/errors.js';

/** Commander argument parsers: a bad value becomes a usage error (exit 2) with a fix-it hint. */
export function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected a positive number, got "${value}"`);
  return n;
}

export function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number ≥ 0, got "${value}"`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected a whole number ≥ 0, got "${value}"`);
  return n;
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a whole number ≥ 1, got "${value}"`);
  return n;
}

export function fraction(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n >= 1) throw new InvalidArgumentError(`expected a fraction in [0, 1), got "${value}"`);
  return n;
}

export function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`expected a TCP port 0-65535, got "${value}"`);
  return n;
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Every input must be a readable file; says which one is missing. */
export function requireInputFiles(paths: readonly string[] | undefined, flag = '--input'): string[] {
  if (!paths || paths.length === 0) throw new ConfigError(`${flag} is required: pass a CSV or JSONL file, e.g. ${flag} data.csv`);
  for (const p of paths) {
    if (!existsSync(p) || !statSync(p).isFile()) {
      throw new ConfigError(`${flag} ${p}: no such file; pass the path of a CSV (timestamp,value…) or JSONL file`);
    }
  }
  return [...paths];
}
