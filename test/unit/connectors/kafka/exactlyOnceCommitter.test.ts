import type { TopicMessages } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { PartitionCheckpoint } from '../../../../src/connectors/committer.js';
import { ExactlyOnceCommitter } from '../../../../src/connectors/kafka/exactlyOnceCommitter.js';
import type { CommittedOffset } from '../../../../src/connectors/kafka/kafkaCheckpointReader.js';
import type { OutputProducer, OutputProducerOptions, ProducerFactory } from '../../../../src/connectors/kafka/outputProducer.js';
import { type PackedMessages, unpackTopicMessages } from '../../../../src/connectors/kafka/packedMessages.js';
import type { TransactionWork } from '../../../../src/connectors/kafka/runTransaction.js';
import type { DeadLetter } from '../../../../src/domain/deadLetter.js';
import type { Forecast } from '../../../../src/domain/forecast.js';
import { createLogger } from '../../../../src/observability/logger.js';

const topics = { input: 'in', output: 'out', deadLetter: 'dlq', changelog: 'p.state' };

/** A transactional producer that records its transactions; `failures` are thrown by the next transact calls, in turn. */
class FakeProducer implements OutputProducer {
  readonly transactions: TransactionWork[] = [];
  initialised = 0;
  disconnected = false;
  constructor(
    readonly options: OutputProducerOptions,
    private readonly failures: unknown[],
  ) {}
  async connect(): Promise<void> {}
  async disconnect(): Promise<void> {
    this.disconnected = true;
  }
  async sendBatch(): Promise<unknown> {
    throw new Error('a transactional producer of the committer never sends outside a transaction');
  }
  async initTransactions(): Promise<void> {
    this.initialised++;
  }
  async transact(work: TransactionWork): Promise<void> {
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    this.transactions.push(work);
  }
}

function harness(opts: { failures?: unknown[]; committed?: (partition: number) => CommittedOffset | undefined } = {}) {
  const producers: FakeProducer[] = [];
  const failures = opts.failures ?? [];
  const factory: ProducerFactory = {
    producer: (o) => {
      const p = new FakeProducer(o, failures);
      producers.push(p);
      return p;
    },
    close: async () => undefined,
  };
  const committer = new ExactlyOnceCommitter({
    producers: factory,
    reader: { committed: async (p) => opts.committed?.(p) },
    logger: createLogger({ level: 'silent' }),
    groupId: 'g',
    topics,
    instanceId: 'me',
    signal: new AbortController().signal,
  });
  /** Every message a transaction sent, as `topic:key`, in order. */
  const sent = (w: TransactionWork) =>
    w.requests.flatMap((r) => (Array.isArray(r) ? (r as TopicMessages[]) : unpackTopicMessages(r as PackedMessages))).flatMap((t) => t.messages.map((m) => `${t.topic}:${String(m.key)}`));
  return { committer, producers, sent, live: (p: number) => producers.filter((x) => x.options.transactionalId === `g.in.${p}` && !x.disconnected) };
}

const forecast = (series: string): Forecast => ({ series, ts: 0, step: 60_000, forecast: [], model: { name: 'm', version: 0, kind: 'baseline' }, imputed: false });
const letter = (partition: number): DeadLetter => ({ reason: 'invalid_json', message: 'x', source: { topic: 'in', partition, offset: '1', key: `k${partition}` }, payload: '{' });
const part = (partition: number, offset: string, extra: Partial<PartitionCheckpoint> = {}): PartitionCheckpoint => ({
  partition,
  deadLetters: [letter(partition)],
  state: [{ series: `s${partition}`, partition, value: new Uint8Array([1]) }],
  position: { topic: 'in', partition, offset },
  advances: true,
  ...extra,
});
const partitionOf = (series: string) => (series.startsWith('p1') ? 1 : 0);
const settle = () => new Promise((r) => setImmediate(r));

describe('ExactlyOnceCommitter', () => {
  it('commits each partition as one transaction: its forecasts, dead letters and state, then its offset named by this commit', async () => {
    const h = harness();
    await h.committer.acquire(0);
    await h.committer.acquire(1);
    expect(h.producers.map((p) => [p.options.transactionalId, p.initialised])).toEqual([
      ['g.in.0', 1],
      ['g.in.1', 1],
    ]);
    let durable = false;
    const written = h.committer.write([forecast('p0-a'), forecast('p1-b'), forecast('p0-c')], partitionOf).then(() => {
      durable = true;
    });
    expect(h.committer.held).toBe(3);
    const outputs = h.committer.seal();
    expect([...outputs.partitions].sort()).toEqual([0, 1]);
    expect(h.committer.held).toBe(0);
    await settle();
    expect(durable).toBe(false); // held until its transaction commits

    const lost = await h.committer.commit({ outputs, final: false, parts: [part(0, '10'), part(1, '20')] });
    await written;
    expect(lost).toEqual([]);
    expect(durable).toBe(true);
    const [t0] = h.live(0)[0]!.transactions;
    const [t1] = h.live(1)[0]!.transactions;
    expect(h.sent(t0!)).toEqual(['out:p0-a', 'out:p0-c', 'dlq:k0', 'p.state:s0']);
    expect(h.sent(t1!)).toEqual(['out:p1-b', 'dlq:k1', 'p.state:s1']);
    expect(t0!.offsets).toEqual({ consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '10', metadata: 'me:1' }] }] });
    expect(t1!.offsets?.topics[0]?.partitions[0]).toMatchObject({ partition: 1, offset: '20', metadata: 'me:1' });
  });

  it('puts forecasts written after a seal into the next commit, not the sealed one', async () => {
    const h = harness();
    await h.committer.acquire(0);
    void h.committer.write([forecast('p0-a')], partitionOf);
    const first = h.committer.seal();
    void h.committer.write([forecast('p0-b')], partitionOf);
    await h.committer.commit({ outputs: first, final: false, parts: [part(0, '1', { deadLetters: [], state: [] })] });
    const second = h.committer.seal();
    await h.committer.commit({ outputs: second, final: false, parts: [part(0, '2', { deadLetters: [], state: [] })] });
    const txns = h.live(0)[0]!.transactions.map(h.sent);
    expect(txns).toEqual([['out:p0-a'], ['out:p0-b']]);
  });

  it('reports a fenced partition as lost and writes nothing for it; the others commit', async () => {
    const h = harness({ failures: [Object.assign(new Error('fenced'), { type: 'PRODUCER_FENCED' })] });
    await h.committer.acquire(0);
    await h.committer.acquire(1);
    const lost = await h.committer.commit({ outputs: h.committer.seal(), final: false, parts: [part(0, '5'), part(1, '6')] });
    expect(lost).toEqual([0]);
    expect(h.live(0)[0]!.transactions).toEqual([]);
    expect(h.live(1)[0]!.transactions).toHaveLength(1);
  });

  it('fails the commit, and the writes waiting on it, on an error that is not an outage', async () => {
    const h = harness({ failures: [new Error('record too large')] });
    await h.committer.acquire(0);
    const written = h.committer.write([forecast('p0-a')], partitionOf);
    const outputs = h.committer.seal();
    await expect(h.committer.commit({ outputs, final: false, parts: [part(0, '5')] })).rejects.toThrow('record too large');
    await expect(written).rejects.toThrow('record too large');
    expect(h.live(0)[0]!.transactions).toEqual([]);
  });

  it('after an outage retries with a fresh producer (fencing its own open transaction), unless the commit had landed', async () => {
    const outage = () => Object.assign(new Error('connection lost'), { retriable: true });
    // Not landed: the group's offset carries no marker of this commit; the transaction is sent again.
    const again = harness({ failures: [outage()], committed: () => ({ offset: '4', metadata: 'me:0' }) });
    await again.committer.acquire(0);
    await again.committer.commit({ outputs: again.committer.seal(), final: false, parts: [part(0, '5')] });
    expect(again.producers).toHaveLength(2);
    expect(again.producers[0]!.disconnected).toBe(true);
    expect(again.producers[1]!.transactions).toHaveLength(1);

    // Landed: its commit reached the coordinator before the error; sending it again would duplicate it.
    const landed = harness({ failures: [outage()], committed: () => ({ offset: '5', metadata: 'me:1' }) });
    await landed.committer.acquire(0);
    expect(await landed.committer.commit({ outputs: landed.committer.seal(), final: false, parts: [part(0, '5')] })).toEqual([]);
    expect(landed.producers.flatMap((p) => p.transactions)).toEqual([]);
  });

  it('drops what a released partition holds, and counts it lost if a commit comes for it', async () => {
    const h = harness();
    await h.committer.acquire(0);
    void h.committer.write([forecast('p0-a')], partitionOf);
    await h.committer.release(0);
    const outputs = h.committer.seal();
    expect(outputs.partitions.size).toBe(0);
    expect(await h.committer.commit({ outputs, final: false, parts: [part(0, '5')] })).toEqual([0]);
    expect(h.producers[0]!.disconnected).toBe(true);
  });
});
