import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '../../helpers/cli.js';

/**
 * deploy/Dockerfile checked without a Docker engine: its instructions are parsed, and the runtime
 * stage is staged by hand (what it copies, `npm run build` output in dist/) and run with the
 * image's entry point.
 */

interface Instruction {
  readonly op: string;
  readonly args: string;
}

/** Instructions of a Dockerfile: comments dropped, `\` continuations joined. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1).trim() + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+(.*)$/.exec(full);
    if (m === null) throw new Error(`not a Dockerfile instruction: ${full}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim() });
  }
  return out;
}

interface Copy {
  readonly from?: string;
  readonly sources: string[];
  readonly dest: string;
}

function copyOf(i: Instruction): Copy {
  const words = i.args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { ...(from !== undefined ? { from } : {}), sources: paths.slice(0, -1), dest: paths[paths.length - 1]! };
}

/** Stages split at FROM, named by `AS` (or their index). */
function stagesOf(ins: readonly Instruction[]): Array<{ name: string; body: Instruction[] }> {
  const stages: Array<{ name: string; body: Instruction[] }> = [];
  for (const i of ins) {
    if (i.op === 'FROM') stages.push({ name: /\s+AS\s+(\S+)$/i.exec(i.args)?.[1] ?? String(stages.length), body: [] });
    else stages[stages.length - 1]?.body.push(i);
  }
  return stages;
}

const norm = (p: string) => p.replace(/^\.\//, '').replace(/\/$/, '');

describe('deploy/Dockerfile (parsed, no Docker engine)', () => {
  const stages = stagesOf(parseDockerfile(readFileSync(join(repoRoot, 'deploy', 'Dockerfile'), 'utf8')));
  const build = stages[0]!;
  const runtime = stages[stages.length - 1]!;

  it('the parser is a check that can fail: continuations, comments, stages', () => {
    const s = stagesOf(parseDockerfile('# c\nFROM a AS b\nRUN x \\\n  y\nFROM c\nCOPY --from=b /x ./x\n'));
    expect(s.map((x) => x.name)).toEqual(['b', '1']);
    expect(s[0]!.body).toEqual([{ op: 'RUN', args: 'x y' }]);
    expect(copyOf(s[1]!.body[0]!)).toEqual({ from: 'b', sources: ['/x'], dest: './x' });
  });

  it('builds with `npm ci` then `npm run build` from the repository\'s package.json, package-lock.json and tsconfig files', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runs = build.body.filter((i) => i.op === 'RUN').map((i) => i.args);
    const ci = build.body.findIndex((i) => i.op === 'RUN' && /^npm ci\b/.test(i.args));
    const compile = build.body.findIndex((i) => i.op === 'RUN' && i.args === 'npm run build');
    expect(ci, runs.join(' | ')).toBeGreaterThanOrEqual(0);
    expect(compile, runs.join(' | ')).toBeGreaterThan(ci);
    // Every file `npm ci` and `npm run build` read is copied in before it runs, from the repository.
    const copiedBefore = (index: number) => build.body.slice(0, index).filter((i) => i.op === 'COPY').flatMap((i) => copyOf(i).sources.map(norm));
    expect(copiedBefore(ci)).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    // npm ci's postinstall patches kafkajs from patches/: without them it would install stock kafkajs.
    if (/patch-package/.test(pkg.scripts['postinstall'] ?? '')) expect(copiedBefore(ci)).toContain('patches');
    const project = /-p\s+(\S+)/.exec(pkg.scripts['build'] ?? '')?.[1];
    expect(project).toBeDefined();
    const tsconfig = JSON.parse(readFileSync(join(repoRoot, project!), 'utf8')) as { extends?: string; include?: string[] };
    const needed = [project!, ...(tsconfig.extends !== undefined ? [tsconfig.extends] : []), ...(tsconfig.include ?? [])].map(norm);
    expect(copiedBefore(compile)).toEqual(expect.arrayContaining(needed));
    for (const f of [...copiedBefore(compile)]) expect(existsSync(join(repoRoot, f)), f).toBe(true);
  });

  it('the runtime stage copies what `node dist/main.js` needs and runs it', () => {
    const copies = runtime.body.filter((i) => i.op === 'COPY').map(copyOf);
    const from = (stage: string) => copies.filter((c) => c.from === stage).flatMap((c) => c.sources.map((s) => norm(s.replace(/^\/app\//, ''))));
    const fromBuild = from(build.name);
    const fromContext = copies.filter((c) => c.from === undefined).flatMap((c) => c.sources.map(norm));
    expect(fromBuild).toEqual(expect.arrayContaining(['dist']));
    // node_modules comes from a stage that installed production dependencies only, never the
    // build stage's full install (TypeScript, vitest, esbuild, tsx: ~460 MB before).
    expect(fromBuild).not.toContain('node_modules');
    const depsStage = stages.find((st) => st !== runtime && from(st.name).includes('node_modules'));
    expect(depsStage, 'a stage providing node_modules').toBeDefined();
    const installs = depsStage!.body.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(installs.some((r) => /\bnpm ci\b[^&]*--omit=dev/.test(r) || /\bnpm prune\b[^&]*--omit=dev/.test(r)), installs.join(' | ')).toBe(true);
    expect(fromContext).toEqual(expect.arrayContaining(['package.json', 'pipelines', 'models']));
    const entry = runtime.body.find((i) => i.op === 'ENTRYPOINT');
    expect(JSON.parse(entry?.args ?? 'null')).toEqual(['node', 'dist/main.js']);
    expect(runtime.body.find((i) => i.op === 'WORKDIR')?.args).toBe('/app');
  });

  it('.dockerignore keeps local installs and builds out of the context', () => {
    const lines = readFileSync(join(repoRoot, '.dockerignore'), 'utf8').split('\n').map((l) => norm(l.trim()));
    expect(lines).toEqual(expect.arrayContaining(['node_modules', '.cache', 'dist']));
  });
});

describe('deploy/Dockerfile.gpu (parsed, no Docker engine)', () => {
  const stages = stagesOf(parseDockerfile(readFileSync(join(repoRoot, 'deploy', 'Dockerfile.gpu'), 'utf8')));
  const build = stages[0]!;
  const runtime = stages[stages.length - 1]!;

  it('builds the GPU backend with deploy/native/install.sh --gpu after npm ci, from files copied in before', () => {
    const at = (re: RegExp) => build.body.findIndex((i) => i.op === 'RUN' && re.test(i.args));
    const ci = at(/^npm ci\b/);
    const gpu = at(/^bash deploy\/native\/install\.sh --gpu\b/);
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(gpu).toBeGreaterThan(ci);
    // The installer needs Maven, pip, a compiler and unzip: installed before it runs.
    const apt = build.body.slice(0, gpu).find((i) => i.op === 'RUN' && /apt-get install/.test(i.args))?.args ?? '';
    for (const tool of ['maven', 'python3-pip', 'build-essential', 'unzip']) expect(apt, tool).toContain(tool);
    const copied = build.body.slice(0, gpu).filter((i) => i.op === 'COPY').flatMap((i) => copyOf(i).sources.map(norm));
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json', 'patches', 'deploy/native']));
    for (const f of copied) expect(existsSync(join(repoRoot, f)), f).toBe(true);
  });

  it('the runtime stage carries node_modules (with the GPU package) and trains on tensorflow-gpu', () => {
    const fromBuild = runtime.body.filter((i) => i.op === 'COPY').map(copyOf).filter((c) => c.from === build.name).flatMap((c) => c.sources.map((x) => norm(x.replace(/^\/app\//, ''))));
    expect(fromBuild).toEqual(expect.arrayContaining(['dist', 'node_modules']));
    expect(runtime.body.some((i) => i.op === 'ENV' && /STREAMCAST_TRAIN_BACKEND=tensorflow-gpu/.test(i.args))).toBe(true);
    expect(JSON.parse(runtime.body.find((i) => i.op === 'ENTRYPOINT')?.args ?? 'null')).toEqual(['node', 'dist/main.js']);
  });
});

/** Top-level packages `npm ci --omit=dev` installs, from package-lock.json (nested ones come inside them). */
function productionPackages(): string[] {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, p]) => /^node_modules\/(@[^/]+\/)?[^/]+$/.test(path) && p.dev !== true)
    .map(([path]) => path.slice('node_modules/'.length));
}

describe('the image\'s runtime layout, staged without Docker', () => {
  // /app as the runtime stage lays it out: `npm run build` output plus what the stage copies.
  const app = mkdtempSync(join(tmpdir(), 'streamcast-image-'));
  afterAll(() => rmSync(app, { recursive: true, force: true }));

  beforeAll(() => {
    const r = spawnSync('npm', ['run', 'build', '--', '--outDir', join(app, 'dist')], { cwd: repoRoot, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    // node_modules as `npm ci --omit=dev` lays it out: each production package of the lock file
    // (no `"dev": true`) linked from the installed tree; dev-only ones (tsx, typescript, vitest)
    // are absent, so a runtime import of one fails here as it would in the image.
    for (const name of productionPackages()) {
      const target = join(repoRoot, 'node_modules', name);
      if (!existsSync(target)) continue; // an optional dependency that did not install
      mkdirSync(dirname(join(app, 'node_modules', name)), { recursive: true });
      symlinkSync(target, join(app, 'node_modules', name), 'dir');
    }
    for (const p of ['package.json', 'pipelines', 'models']) cpSync(join(repoRoot, p), join(app, p), { recursive: true });
  }, 150_000);

  it('holds production dependencies only', () => {
    for (const dev of ['tsx', 'typescript', 'vitest', 'esbuild']) expect(existsSync(join(app, 'node_modules', dev)), dev).toBe(false);
    for (const prod of ['kafkajs', 'pino', 'pino-pretty', '@tensorflow/tfjs']) expect(existsSync(join(app, 'node_modules', prod)), prod).toBe(true);
  });

  it('`npm run build` emits dist/main.js', () => {
    expect(existsSync(join(app, 'dist', 'main.js'))).toBe(true);
  });

  it('node dist/main.js --help exits 0', () => {
    const r = spawnSync(process.execPath, ['dist/main.js', '--help'], { cwd: app, encoding: 'utf8', timeout: 30_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/\brun\b/);
    expect(r.stdout).toMatch(/\bdemo\b/);
  });

  it('node dist/main.js demo runs from the staged files alone (pipelines, models, the data set in node_modules)', () => {
    const r = spawnSync(process.execPath, ['dist/main.js', 'demo', '--no-http', '--limit', '100'], { cwd: app, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/done: records 100\b/);
  });
});
