/**
 * What must not outlive the chaos benchmark (streamcast children, kcat producers and tails, its
 * broker): each registers a synchronous undo here. On SIGINT/SIGTERM every undo runs, newest
 * first, and the process exits 130/143; `runCleanups` also runs them at a normal end.
 * Synchronous because a signal handler cannot wait: children get SIGKILL, the broker a
 * blocking `kafka.sh stop`.
 */
const undos = new Map<number, { what: string; undo: () => void }>();
let nextId = 0;

/** Registers `undo`; the returned function unregisters it (call it once the thing is gone). */
export function onCleanup(what: string, undo: () => void): () => void {
  const id = nextId++;
  undos.set(id, { what, undo });
  return () => {
    undos.delete(id);
  };
}

export function runCleanups(): void {
  for (const [id, { what, undo }] of [...undos].reverse()) {
    undos.delete(id);
    try {
      undo();
    } catch (err) {
      process.stderr.write(`chaos: cleaning up ${what} failed: ${String(err)}\n`);
    }
  }
}

/** Installs the SIGINT/SIGTERM handlers; the returned function removes them. */
export function cleanupOnSignals(): () => void {
  const handler = (signal: NodeJS.Signals) => {
    process.stderr.write(`\nchaos: ${signal}: stopping ${undos.size} child process(es) and the benchmark's broker\n`);
    runCleanups();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
