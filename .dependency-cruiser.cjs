/**
 * The layer rule of src/ (docs/DESIGN.md, "Layout"), for dependency-cruiser. Checked by
 * test/unit/architecture/layers.test.ts, which runs it through dependency-cruiser's API (the
 * `depcruise` command needs Node 22; the API runs on the Node 20 this project supports).
 *
 * LAYERS lists the folders of src/ from the top down. A module may import from its own folder and
 * from any folder in a lower layer; never from a higher layer, nor from another folder of its own
 * layer (folders that share a layer are independent of each other). `import type` counts: a type
 * is as much a dependency as a value. No import cycle either, inside a folder as well as across.
 * Kafka's client library is used only in connectors/kafka/, the one place that speaks Kafka.
 */
const LAYERS = [
  ['main'], // src/main.ts: the process entry point
  ['cli'], // commands, flags, terminal output
  ['app'], // the composition root: builds replay, demo, backtest and Kafka runs from the parts below
  ['runtime'], // running a pipeline: runner, checkpoints, shutdown, HTTP, readiness
  ['connectors'], // sources and sinks: Kafka, files, memory, InfluxDB, stdout
  ['training'], // dataset building, the trainer worker, artifacts
  ['forecasting'], // the Forecaster contract, the GRU, the baselines
  ['pipeline'], // the operator chain and its per-series cores
  ['state'], // per-series state: the store, its changelog frames
  ['spec', 'config', 'observability', 'evaluation'], // what users write; logs, metrics, events; scoring
  ['codecs'], // input records → points, dead letters
  ['platform'], // generic helpers: retry, worker threads, frame buffers
  ['domain'], // pure types and math
];

const folderPath = (folder) => (folder === 'main' ? '^src/main\\.ts$' : `^src/${folder}/`);
const anyOf = (folders) => `^src/(${folders.map((f) => (f === 'main' ? 'main\\.ts$' : `${f}/`)).join('|')})`;

function layerRules(layers) {
  const rules = [];
  layers.forEach((layer, i) => {
    const above = layers.slice(0, i).flat();
    for (const folder of layer) {
      const forbidden = [...above, ...layer.filter((f) => f !== folder)];
      if (forbidden.length === 0) continue;
      rules.push({
        name: `layer:${folder}`,
        comment: `${folder} may import only from itself and from the layers below it (${layers
          .slice(i + 1)
          .map((l) => l.join(', '))
          .join(' → ')}); see docs/DESIGN.md, "Layout"`,
        severity: 'error',
        from: { path: folderPath(folder) },
        to: { path: anyOf(forbidden) },
      });
    }
  });
  return rules;
}

module.exports = {
  LAYERS,
  forbidden: [
    ...layerRules(LAYERS),
    {
      name: 'no-circular',
      comment: 'an import cycle ties its modules into one: none can be understood, tested or moved alone',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'kafkajs-in-connectors-kafka',
      comment: 'kafkajs is used in connectors/kafka/ only: everything else talks to Kafka through it',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/connectors/kafka/' },
      to: { path: '(^|/)node_modules/kafkajs/' },
    },
  ],
  options: {
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
