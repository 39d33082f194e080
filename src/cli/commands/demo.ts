import type { BackendFlags } from '../../config/backendConfig.js';
import { runDemo } from '../../app/demoRun.js';
import { cliLogger, type LogFlags } from '../cliLogger.js';
import { ForecastPrinter } from '../forecastPrinter.js';

export interface DemoFlags extends BackendFlags, LogFlags {
  rate?: number;
  limit?: number;
  port?: number;
  host?: string;
  http?: boolean;
  quiet?: boolean;
  /** InfluxDB 1.x history, e.g. http://127.0.0.1:8086/streamcast. */
  influx?: string;
}

/**
 * `streamcast demo` (`npm start`): a real data set replayed in-process through the full pipeline,
 * forecasts printed as they are made, metrics served on /metrics. Needs no server.
 */
export async function demoCommand(flags: DemoFlags): Promise<number> {
  await runDemo({
    logger: cliLogger(flags),
    backends: flags,
    http: { port: flags.port, host: flags.host, http: flags.http },
    rate: flags.rate,
    limit: flags.limit,
    influxUrl: flags.influx,
    forecasts: (progress) => new ForecastPrinter(process.stdout, progress),
  });
  return 0;
}
