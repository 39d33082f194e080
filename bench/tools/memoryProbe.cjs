// Preloaded into a benchmarked process (node --expose-gc --require bench/tools/memoryProbe.cjs …):
// on SIGUSR2 it collects garbage (when exposed) and writes process.memoryUsage() and V8's heap
// statistics as JSON to $MEMORY_PROBE_OUT, so that a driver can split RSS into live heap, heap
// slack, array buffers and the rest without a heap snapshot.
'use strict';
const { renameSync, writeFileSync } = require('node:fs');
const v8 = require('node:v8');

process.on('SIGUSR2', () => {
  const before = process.memoryUsage();
  if (typeof globalThis.gc === 'function') {
    globalThis.gc();
    globalThis.gc();
  }
  const after = process.memoryUsage();
  const out = process.env.MEMORY_PROBE_OUT;
  if (!out) return;
  // Renamed into place: the driver polls for the file and must not read it half written.
  writeFileSync(`${out}.tmp`, JSON.stringify({ before, after, heap: v8.getHeapStatistics(), spaces: v8.getHeapSpaceStatistics() }));
  renameSync(`${out}.tmp`, out);
});
