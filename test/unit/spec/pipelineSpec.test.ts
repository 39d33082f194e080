import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CODEC_NAMES } from '../../../src/codecs/codec.js';
import { ConfigError } from '../../../src/domain/errors.js';
import { parseSpec } from '../../../src/spec/loadSpec.js';
import { AGGREGATES, IMPUTE_STRATEGIES } from '../../../src/spec/pipelineSpec.js';
import { runCli, repoRoot } from '../../helpers/cli.js';

const minimal = { name: 'tiny', input: { topic: 'in' }, output: { topic: 'out' }, window: { step: '1h' }, model: { type: 'baseline' } };

function specError(raw: unknown): ConfigError {
  try {
    parseSpec(raw);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('the spec was accepted');
}

describe('impute.strategy', () => {
  it('accepts each strategy the spec lists', () => {
    for (const strategy of IMPUTE_STRATEGIES) expect(parseSpec({ ...minimal, impute: { strategy } }).impute.strategy).toBe(strategy);
  });

  it("rejects the removed 'model' strategy, saying what to write instead", () => {
    const err = specError({ ...minimal, impute: { strategy: 'model' } });
    expect(err.message).toContain("impute.strategy: 'model' was removed");
    expect(err.message).toContain("write 'seasonal' for the same forecasts");
  });

  it('rejects an unknown strategy by listing the known ones', () => {
    const err = specError({ ...minimal, impute: { strategy: 'cubic' } });
    expect(err.message).toMatch(/impute\.strategy: .*"ffill"\|"linear"\|"seasonal"\|"zero"/);
    expect(err.message).not.toContain('was removed');
  });

  describe('a spec naming the removed strategy, through the CLI', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'streamcast-spec-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('exits 2 with the message', async () => {
      const spec = path.join(dir, 'p.yaml');
      writeFileSync(spec, 'name: tiny\ninput: { topic: a }\noutput: { topic: b }\nwindow: { step: 1h }\nimpute: { strategy: model }\nmodel: { type: baseline }\n');
      const input = path.join(dir, 'in.csv');
      writeFileSync(input, 'timestamp,value\n2024-01-01T00:00:00Z,1\n');
      const r = await runCli(['replay', spec, '--input', input, '-q']);
      expect(r.stderr).toContain("impute.strategy: 'model' was removed");
      expect(r.code).toBe(2);
    });
  });
});

describe('the docs list what the spec accepts', () => {
  const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const design = readFileSync(path.join(repoRoot, 'docs/DESIGN.md'), 'utf8');

  it('impute strategies: the example comments in README and DESIGN, and the README table', () => {
    const comment = `# ${IMPUTE_STRATEGIES.join(' | ')}`;
    expect(readme).toMatch(new RegExp(`^impute: .*${escape(comment)}$`, 'm'));
    expect(design).toMatch(new RegExp(`^impute: .*${escape(comment)}$`, 'm'));
    const row = readme.split('\n').find((l) => l.startsWith('| `impute.strategy` |'));
    expect(row).toBeDefined();
    const named = [...row!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]).filter((w) => w !== 'model');
    expect(new Set(named)).toEqual(new Set(IMPUTE_STRATEGIES));
  });

  it('codecs and aggregates: the README example and table', () => {
    expect(readme).toContain(`# codec: ${CODEC_NAMES.join(' | ')}`);
    expect(readme).toContain(`| \`window.aggregate\` | how points in one step combine: ${AGGREGATES.join(', ')} |`);
  });
});

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('model.members', () => {
  it('defaults to two members and takes 1 to 8', () => {
    expect(parseSpec(minimal).model.members).toBe(2);
    expect(parseSpec({ ...minimal, model: { type: 'gru', members: 1 } }).model.members).toBe(1);
    expect(parseSpec({ ...minimal, model: { type: 'gru', members: 8 } }).model.members).toBe(8);
    expect(specError({ ...minimal, model: { type: 'gru', members: 0 } }).message).toMatch(/members/);
    expect(specError({ ...minimal, model: { type: 'gru', members: 9 } }).message).toMatch(/members/);
  });

  it('refuses more than 1024 units in all, saying how to fix it', () => {
    expect(parseSpec({ ...minimal, model: { type: 'gru', hidden: 512, members: 2 } }).model.hidden).toBe(512);
    expect(specError({ ...minimal, model: { type: 'gru', hidden: 512, members: 3 } }).message).toMatch(/model\.hidden × model\.members is 1536; at most 1024 units in all/);
  });
});
