import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `name` that sits beside `callerUrl` (an `import.meta.url`): the
 * compiled `.js` directly, the `.ts` source (tsx, vitest, `node bin/streamcast.js`) through a
 * small bootstrap that registers tsx's loader in the worker first — a worker does not inherit the
 * parent's module hooks, and `execArgv: ['--import', 'tsx']` does not take effect in Node 20
 * workers.
 */
export function spawnWorker(callerUrl: string, name: string, workerData: unknown): Worker {
  const ext = new URL(callerUrl).pathname.endsWith('.ts') ? '.ts' : '.js';
  const target = new URL(`./${name}${ext}`, callerUrl);
  if (ext === '.js') return new Worker(target, { workerData });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(target.href)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}
