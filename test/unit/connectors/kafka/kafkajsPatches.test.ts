import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

// patches/kafkajs+2.2.4.patch (applied by `npm ci`'s postinstall, patch-package): performance
// fixes on kafkajs' producer path. These tests check that the patch is installed and that the
// code it brings is correct.
const root = resolve(import.meta.dirname, '../../../..');
const require = createRequire(import.meta.url);
const kafkajsDir = dirname(require.resolve('kafkajs/package.json'));

const crc32C = require(join(kafkajsDir, 'src/protocol/recordBatch/crc32C/crc32C.js')) as (b: Buffer) => number;
const groupMessagesPerPartition = require(join(kafkajsDir, 'src/producer/groupMessagesPerPartition.js')) as (a: {
  topic: string;
  partitionMetadata: unknown[];
  messages: Array<{ key: string; partition: number }>;
  partitioner: (a: { message: { partition: number } }) => number;
}) => Record<string, Array<{ key: string; partition: number }>>;

/** CRC-32C bit by bit (reflected polynomial 0x82F63B78): slow, obviously right. */
function crc32CBitwise(b: Uint8Array): number {
  let crc = ~0;
  for (const byte of b) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return ~crc >>> 0;
}

describe('kafkajs patches', () => {
  it('are installed: every line the patch adds is in the installed kafkajs', () => {
    const patch = readFileSync(join(root, 'patches', 'kafkajs+2.2.4.patch'), 'utf8');
    const files = patch.split(/^diff --git /m).slice(1);
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) {
      const path = /^a\/node_modules\/kafkajs\/(\S+)/.exec(f)![1]!;
      const installed = readFileSync(join(kafkajsDir, path), 'utf8');
      const added = f.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++')).map((l) => l.slice(1));
      for (const line of added) expect(installed, `${path} lacks a patched line (run npm ci)`).toContain(line);
    }
  });

  it('CRC-32C (slicing by 8) equals the bitwise definition at every length and alignment', () => {
    expect(crc32C(Buffer.from('123456789'))).toBe(0xe3069283); // the standard check value
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), (bytes, offset) => {
        const b = Buffer.alloc(bytes.length + offset);
        b.set(bytes, offset);
        const view = b.subarray(offset);
        expect(crc32C(view)).toBe(crc32CBitwise(view));
      }),
    );
  });

  it('groups messages per partition keeping their order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(5), { maxLength: 200 }), (partitions) => {
        const messages = partitions.map((p, i) => ({ key: `m${i}`, partition: p }));
        const grouped = groupMessagesPerPartition({ topic: 't', partitionMetadata: [{}], messages, partitioner: ({ message }) => message.partition });
        for (const p of new Set(partitions)) expect(grouped[p]).toEqual(messages.filter((m) => m.partition === p));
        expect(Object.values(grouped).flat()).toHaveLength(messages.length);
      }),
    );
  });
});
