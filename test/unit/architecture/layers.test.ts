import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { cruise, type ICruiseResult, type IForbiddenRuleType } from 'dependency-cruiser';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../helpers/cli.js';

// The layer rule of docs/DESIGN.md ("Layout"), as .dependency-cruiser.cjs writes it, checked on
// src/ through dependency-cruiser's API.

interface LayerConfig {
  readonly LAYERS: readonly (readonly string[])[];
  readonly forbidden: IForbiddenRuleType[];
  readonly options: { readonly tsPreCompilationDeps: boolean; readonly doNotFollow: { readonly path: string } };
}
const config = createRequire(import.meta.url)(path.join(repoRoot, '.dependency-cruiser.cjs')) as LayerConfig;

interface Violation {
  readonly rule: string;
  readonly from: string;
  readonly to: string;
}

/**
 * Violations tolerated for a while (a restructuring in progress elsewhere), each with the change
 * that removes it. Empty: the rule holds with no exception. An entry that no longer occurs fails
 * the test (below), so the list can only shrink.
 */
const KNOWN_VIOLATIONS: readonly Violation[] = [];

const key = (v: Violation): string => `${v.rule}: ${v.from} → ${v.to}`;

/** The violations of the rule set in the tree under `baseDir` (its `src/`); package paths from `node_modules/` on. */
async function violationsUnder(baseDir: string): Promise<Violation[]> {
  const tsConfigFile = path.join(repoRoot, 'tsconfig.json');
  const result = await cruise(
    ['src'],
    {
      ...config.options,
      baseDir,
      tsConfig: { fileName: tsConfigFile },
      validate: true,
      ruleSet: { forbidden: config.forbidden },
    },
    {},
    { tsConfig: extractTSConfig(tsConfigFile) },
  );
  const output = result.output as ICruiseResult;
  return output.summary.violations.map((v) => ({ rule: v.rule.name, from: v.from, to: v.to.replace(/^.*?node_modules\//, 'node_modules/') }));
}

describe('the layer rule on src/', () => {
  const found = violationsUnder(repoRoot);

  it('has no violation beyond the known ones', async () => {
    const known = new Set(KNOWN_VIOLATIONS.map(key));
    const fresh = (await found).filter((v) => !known.has(key(v))).map(key);
    // Each line names the rule, the importing module and the imported one: move the shared code
    // down to the layer both can import, or invert the dependency (docs/DESIGN.md, "Layout").
    expect(fresh).toEqual([]);
  });

  it('still finds every known violation (a fixed one is deleted from KNOWN_VIOLATIONS)', async () => {
    const now = new Set((await found).map(key));
    expect(KNOWN_VIOLATIONS.map(key).filter((k) => !now.has(k))).toEqual([]);
  });

  it('places every folder of src/ in a layer', () => {
    const placed = new Set(config.LAYERS.flat());
    const folders = readdirSync(path.join(repoRoot, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    expect(folders.filter((f) => !placed.has(f))).toEqual([]);
    expect(placed.has('main')).toBe(true);
  });
});

describe('the layer rule on a tree made to break it', () => {
  // Inside the repository so that `kafkajs` resolves as it does for src/.
  mkdirSync(path.join(repoRoot, '.cache'), { recursive: true });
  const dir = mkdtempSync(path.join(repoRoot, '.cache', 'layers-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), text);
  };
  write('src/domain/point.ts', 'export interface Point { readonly ts: number }\n');
  // Allowed: down a layer.
  write('src/pipeline/operator.ts', "import type { Point } from '../domain/point.js';\nexport const first = (p: readonly Point[]): Point | undefined => p[0];\n");
  // Up: a type-only import is a dependency all the same.
  write('src/domain/upward.ts', "import type { first } from '../pipeline/operator.js';\nexport type First = typeof first;\n");
  // Sideways between two folders of one layer.
  write('src/spec/sideways.ts', "import { retries } from '../config/retries.js';\nexport const doubled = retries * 2;\n");
  write('src/config/retries.ts', 'export const retries = 3;\n');
  // A cycle inside one folder.
  write('src/state/a.ts', "import { b } from './b.js';\nexport const a = (): number => b() + 1;\n");
  write('src/state/b.ts', "import { a } from './a.js';\nexport const b = (): number => (Math.random() > 2 ? a() : 0);\n");
  // Kafka's client outside connectors/kafka.
  write('src/runtime/client.ts', "import type { Kafka } from 'kafkajs';\nexport type Client = Kafka;\n");
  write('src/connectors/kafka/client.ts', "import type { Kafka } from 'kafkajs';\nexport type Client = Kafka;\n");

  it('reports each upward, sideways, circular and misplaced import, and nothing else', async () => {
    const found = (await violationsUnder(dir)).map(key).sort();
    expect(found).toEqual(
      [
        'layer:domain: src/domain/upward.ts → src/pipeline/operator.ts',
        'layer:spec: src/spec/sideways.ts → src/config/retries.ts',
        // A cycle is reported once, at its first module.
        'no-circular: src/state/a.ts → src/state/b.ts',
        'kafkajs-in-connectors-kafka: src/runtime/client.ts → node_modules/kafkajs/index.js',
      ].sort(),
    );
  });
});
