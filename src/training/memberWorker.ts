import { parentPort, workerData } from 'node:worker_threads';
import type { FromMemberWorker, MemberWorkerInit, ToMemberWorker } from './trainerProtocol.js';
import { weightBuffers } from './trainerProtocol.js';
import { trainLoop } from './trainLoop.js';

/**
 * A helper thread of the trainer worker: trains one member of a model (trainMembers.ts) on the
 * hand-written kernel while the trainer trains another, so a model of two members takes about one
 * member's time where a second core is free. Only the `js` kernel comes here: it needs no tf
 * engine, so the helper loads none. The same trainLoop on the same inputs gives the same weights
 * as on the trainer thread. Started by trainerWorker.ts; shares its cancel flag.
 */
const port = parentPort;
if (port === null) throw new Error('memberWorker.ts must run as a worker thread (see trainerWorker.ts)');
const init = workerData as MemberWorkerInit;
const cancelFlag = new Int32Array(init.cancel);
// setImmediate lets messages in between chunks; the cancel flag itself is shared memory.
const pause = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

port.on('message', (msg: ToMemberWorker) => {
  void (async (): Promise<void> => {
    const { id, job } = msg;
    try {
      const outcome = await trainLoop(job.train, job.validation, job.init, { ...job.options, kernel: 'js' }, { pause, shouldCancel: () => Atomics.load(cancelFlag, 0) === job.cancelId });
      const reply: FromMemberWorker = { type: 'result', id, outcome };
      port.postMessage(reply, outcome.status === 'done' && outcome.weights !== job.init ? weightBuffers(outcome.weights) : []);
    } catch (err) {
      const reply: FromMemberWorker = { type: 'failed', id, message: err instanceof Error ? err.message : String(err) };
      port.postMessage(reply);
    }
  })();
});
