/**
 * Summarises a V8 heap snapshot by constructor (self size, count), the largest first, divided by
 * a series count when given: which structures the bytes per series are made of.
 *
 *   node --import tsx bench/tools/heapSummary.ts /tmp/live.heapsnapshot [series] [top]
 */
import { readFileSync } from 'node:fs';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const [path, seriesArg, topArg] = process.argv.slice(2);
if (path === undefined) {
  process.stderr.write('usage: heapSummary.ts <file.heapsnapshot> [series] [top]\n');
  process.exit(2);
}
const snap = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
const fields = snap.snapshot.meta.node_fields;
const types = snap.snapshot.meta.node_types[0];
const F = fields.length;
const iType = fields.indexOf('type');
const iName = fields.indexOf('name');
const iSize = fields.indexOf('self_size');
const groups = new Map<string, { bytes: number; count: number }>();
let total = 0;
for (let i = 0; i < snap.nodes.length; i += F) {
  const type = types[snap.nodes[i + iType]!]!;
  const name = type === 'object' || type === 'native' || type === 'closure' ? snap.strings[snap.nodes[i + iName]!]! : `(${type})`;
  const size = snap.nodes[i + iSize]!;
  total += size;
  const g = groups.get(name) ?? { bytes: 0, count: 0 };
  g.bytes += size;
  g.count++;
  groups.set(name, g);
}
const series = Number(seriesArg ?? 1);
const rows = [...groups.entries()]
  .sort((a, b) => b[1].bytes - a[1].bytes)
  .slice(0, Number(topArg ?? 25))
  .map(([name, g]) => ({ constructor: name.slice(0, 60), MB: +(g.bytes / 1e6).toFixed(1), count: g.count, 'bytes/series': Math.round(g.bytes / series), 'count/series': +(g.count / series).toFixed(2) }));
console.table(rows);
console.log(`total ${(total / 1e6).toFixed(1)} MB, ${Math.round(total / series)} bytes/series`);

// Array buffer data (typed arrays' storage) by owner: the first named object up its retainer chain
// (ArrayBuffer → typed array → array of pages → the class holding them), with the edge names.
const edgeFields = (snap.snapshot.meta as unknown as { edge_fields: string[] }).edge_fields;
const edgeTypes = (snap.snapshot.meta as unknown as { edge_types: [string[]] }).edge_types[0];
const edges = (snap as unknown as { edges: number[] }).edges;
const E = edgeFields.length;
const eType = edgeFields.indexOf('type');
const eName = edgeFields.indexOf('name_or_index');
const eTo = edgeFields.indexOf('to_node');
const iEdges = fields.indexOf('edge_count');
const nodeCount = snap.nodes.length / F;
const retainer = new Int32Array(nodeCount).fill(-1);
const retainerEdge = new Array<string>(nodeCount);
let e = 0;
for (let n = 0; n < nodeCount; n++) {
  const count = snap.nodes[n * F + iEdges]!;
  for (let k = 0; k < count; k++, e += E) {
    const to = edges[e + eTo]! / F;
    const t = edgeTypes[edges[e + eType]!]!;
    if (t === 'weak' || t === 'shortcut') continue;
    if (retainer[to] === -1) {
      retainer[to] = n;
      retainerEdge[to] = t === 'element' || t === 'hidden' ? `[${edges[e + eName]}]` : snap.strings[edges[e + eName]!]!;
    }
  }
}
const nameOf = (n: number) => {
  const type = types[snap.nodes[n * F + iType]!]!;
  return type === 'object' || type === 'native' || type === 'closure' ? snap.strings[snap.nodes[n * F + iName]!]! : `(${type})`;
};
const plumbing = new Set(['system / JSArrayBufferData', 'ArrayBuffer', 'Array', '(array)', 'Float64Array', 'Float32Array', 'Uint8Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'SlotPages', '(hidden)', 'Object']);
const owners = new Map<string, { bytes: number; count: number }>();
for (let n = 0; n < nodeCount; n++) {
  const name = nameOf(n);
  if (name !== 'system / JSArrayBufferData' && name !== '(array)' && name !== '(number)' && name !== 'Object' && name !== '(string)') continue;
  let cur = n;
  const path: string[] = [];
  for (let depth = 0; depth < 8 && retainer[cur]! >= 0; depth++) {
    path.push(retainerEdge[cur]!.replace(/^\[\d+\]$/, '[]'));
    cur = retainer[cur]!;
    if (!plumbing.has(nameOf(cur))) break;
  }
  const key = `${name} ← ${nameOf(cur)}.${path.reverse().join('.')}`.slice(0, 110);
  const g = owners.get(key) ?? { bytes: 0, count: 0 };
  g.bytes += snap.nodes[n * F + iSize]!;
  g.count++;
  owners.set(key, g);
}
console.table(
  [...owners.entries()]
    .sort((a, b) => b[1].bytes - a[1].bytes)
    .slice(0, Number(topArg ?? 25))
    .map(([owner, g]) => ({ owner, MB: +(g.bytes / 1e6).toFixed(1), 'bytes/series': Math.round(g.bytes / series) })),
);
