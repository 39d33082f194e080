import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { ConfigError } from '../../domain/errors.js';
import type { DeadLetter } from '../../domain/deadLetter.js';
import type { Point } from '../../domain/point.js';
import { csvCursor, type CsvOptions } from './csvFile.js';
import { jsonlCursor } from './jsonlFile.js';
import type { RecordCursor } from './recordCursor.js';

export type FileFormat = 'auto' | 'csv' | 'jsonl';

/** `.jsonl`, `.ndjson`, `.json` are JSON lines, other extensions CSV; no extension: sniff `{`/`[`. */
export function formatOf(path: string, text: string, format: FileFormat = 'auto'): 'csv' | 'jsonl' {
  if (format !== 'auto') return format;
  const ext = extname(path).toLowerCase();
  if (ext === '.jsonl' || ext === '.ndjson' || ext === '.json') return 'jsonl';
  if (ext !== '') return 'csv';
  const first = text.trimStart()[0];
  return first === '{' || first === '[' ? 'jsonl' : 'csv';
}

/** A record cursor over a file's text, in the given (or detected) format. */
export function cursorOf(path: string, partition: number, text: string, opts: { format?: FileFormat; csv?: CsvOptions } = {}): RecordCursor {
  return formatOf(path, text, opts.format) === 'jsonl' ? jsonlCursor(path, partition, text) : csvCursor(path, partition, text, opts.csv);
}

/** Reads a whole input file as text; a missing or unreadable file is a ConfigError that says so. */
export async function readInputText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'does not exist' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'is not readable' : `cannot be read (${code ?? String(err)})`;
    throw new ConfigError(`input file ${path} ${why}; check the --input path`, { cause: err });
  }
}

/**
 * Reads one file into memory as points and dead letters, in file order: for training, tests and
 * tools that want the whole series rather than a stream.
 */
export async function readSeriesFile(
  path: string,
  opts: { format?: FileFormat; csv?: CsvOptions } = {},
): Promise<{ points: Point[]; deadLetters: DeadLetter[] }> {
  const cursor = cursorOf(path, 0, await readInputText(path), opts);
  const points: Point[] = [];
  const deadLetters: DeadLetter[] = [];
  while (!cursor.done) {
    const r = cursor.take();
    for (const p of r.points) points.push(p);
    for (const d of r.deadLetters) deadLetters.push(d);
  }
  return { points, deadLetters };
}
