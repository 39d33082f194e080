import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Real servers for test/integration: reuses KAFKA_BROKERS / PROMETHEUS_URL / INFLUX_URL or a
    // running `npm run kafka:start`, else starts them on free loopback ports (Java for Kafka) and
    // stops them afterwards. Without one, the tests needing it skip — except under CI.
    globalSetup: ['test/helpers/globalSetup.ts'],
    // Tests share one machine with 2 cores; more workers only thrash.
    maxWorkers: 2,
    // CI also writes machine-readable results, from which .ci/run prints a plain closing line.
    reporters: process.env.CI ? ['default', ['json', { outputFile: '.cache/vitest-results.json' }]] : ['default'],
  },
});
