import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { loadSpec } from '../../../src/pipeline/spec/loadSpec.js';
import { repoRoot } from '../../helpers/cli.js';
import { describeWithCommand } from '../../helpers/commands.js';

const compose = parse(readFileSync(join(repoRoot, 'docker-compose.yml'), 'utf8')) as { services: Record<string, { command?: string[]; volumes?: string[]; image?: string }> };

describeWithCommand('docker-compose', 'apt-get install -y --no-install-recommends docker-compose (.ci/run does)', 'docker-compose.yml (offline validation)', () => {
  it('passes docker-compose config -q', () => {
    const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: repoRoot, encoding: 'utf8' });
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
  });

  it('is a check that can fail: an unknown key is rejected', () => {
    const dir = mkdtempSync(join(tmpdir(), 'streamcast-compose-'));
    try {
      writeFileSync(join(dir, 'docker-compose.yml'), 'version: "3.8"\nservices:\n  x:\n    image: busybox\n    bogus_key: 1\n');
      const r = spawnSync('docker-compose', ['-f', 'docker-compose.yml', 'config', '-q'], { cwd: dir, encoding: 'utf8' });
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the stack\'s wiring', () => {
  it('runs Kafka, Prometheus, Grafana, InfluxDB 1.8, streamcast and a demo producer', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['grafana', 'influxdb', 'kafka', 'producer', 'prometheus', 'streamcast']);
    expect(compose.services['influxdb']?.image).toBe('influxdb:1.8');
    expect(compose.services['streamcast']?.command?.slice(0, 2)).toEqual(['run', 'pipelines/demo.yaml']);
    // History for the forecasts dashboard comes from the Kafka runtime itself.
    const cmd = compose.services['streamcast']?.command ?? [];
    expect(cmd[cmd.indexOf('--influx') + 1]).toBe('http://influxdb:8086/streamcast');
    expect(compose.services['producer']?.command?.[0]).toBe('produce');
    expect(compose.services['grafana']?.volumes).toEqual(expect.arrayContaining(['./deploy/grafana/provisioning:/etc/grafana/provisioning:ro', './deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro']));
    const promCfg = parse(readFileSync(join(repoRoot, 'deploy', 'prometheus', 'prometheus.compose.yml'), 'utf8')) as { scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[] };
    expect(promCfg.scrape_configs[0]).toMatchObject({ job_name: 'streamcast', static_configs: [{ targets: ['streamcast:9464'] }] });
    const producerTopic = compose.services['producer']?.command?.[compose.services['producer'].command.indexOf('--topic') + 1];
    expect(producerTopic).toBe(loadSpec(join(repoRoot, 'pipelines', 'demo.yaml')).input.topic);
  });

  it('k8s: probes on /healthz and /readyz, resources, scrape annotations, and a spec that loads', () => {
    const dir = join(repoRoot, 'deploy', 'k8s');
    const docs = ['configmap.yaml', 'deployment.yaml', 'service.yaml', 'podmonitor.yaml'].flatMap((f) =>
      parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJSON() as { kind: string; spec: any; data?: Record<string, string>; metadata: any }),
    );
    const deployment = docs.find((d) => d.kind === 'Deployment')!;
    const c = deployment.spec.template.spec.containers[0];
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.resources.requests).toBeDefined();
    expect(deployment.spec.template.metadata.annotations['prometheus.io/port']).toBe('9464');
    expect(docs.map((d) => d.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'PodMonitor', 'Service']);
    const cm = docs.find((d) => d.kind === 'ConfigMap')!;
    const tmp = mkdtempSync(join(tmpdir(), 'streamcast-k8s-'));
    try {
      for (const [name, text] of Object.entries(cm.data ?? {})) {
        writeFileSync(join(tmp, name), text);
        expect(c.args).toContain(`/app/pipelines-k8s/${name}`);
        expect(loadSpec(join(tmp, name)).name).toBe('demo');
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
