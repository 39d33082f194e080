import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../domain/errors.js';
import { pipelineSpecSchema, type PipelineSpec } from './pipelineSpec.js';

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function formatIssues(where: string, issues: readonly z.core.$ZodIssue[]): string {
  const lines = issues.map((i) => {
    const path = i.path.length ? i.path.map(String).join('.') : '(top level)';
    return `  - ${path}: ${i.message}`;
  });
  return `${where}: invalid pipeline spec\n${lines.join('\n')}\nSee README.md "Pipeline spec" for every field and its default.`;
}

/** Validates an already-parsed spec object; throws ConfigError naming each bad field's path. */
export function parseSpec(raw: unknown, where = 'spec'): PipelineSpec {
  const result = pipelineSpecSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(formatIssues(where, result.error.issues));
  const s = result.data;
  const step = s.window.step;
  // Defaults that depend on other fields are resolved here, once.
  const spec: PipelineSpec = {
    ...s,
    window: { ...s.window, lateness: s.window.lateness ?? 0, idleClose: s.window.idleClose ?? 5 * step },
    impute: { ...s.impute, season: s.impute.season ?? s.baseline.season },
  };
  return deepFreeze(spec);
}

/** Reads and validates a YAML pipeline spec file. */
export function loadSpec(path: string): PipelineSpec {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`${path}: cannot read the pipeline spec (${(cause as Error).message}); pass the path of a YAML file such as pipelines/demo.yaml`, { cause });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (cause) {
    const detail = cause instanceof YAMLParseError ? cause.message : String(cause);
    throw new ConfigError(`${path}: not valid YAML: ${detail}`, { cause });
  }
  return parseSpec(raw, path);
}
