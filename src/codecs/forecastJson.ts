import type { Forecast, ModelInfo } from '../domain/forecast.js';

/** `"key":` per quantile key, and the text after the horizons per model: the same few values recur. */
const keyText = new Map<string, string>();
let lastModel: ModelInfo = { name: '', version: Number.NaN, kind: 'baseline' };
let lastModelText = '';
/** The text from `,"ts":` to `"forecast":[` of the last forecast's ts and step. */
let headTs = Number.NaN;
let headStep = Number.NaN;
let headText = '';
/** Per horizon position: the `{"h":…,"ts":…,"mean":` text of the last h and ts there. */
const horizonHeads: Array<{ h: number; ts: number; text: string }> = [];

/**
 * Serializes a forecast exactly as `JSON.stringify` would (same keys, same order, same number
 * text), several times faster: forecasts are the bulk of what streamcast writes, and the generic
 * serializer dominated replay profiles. Strings go through JSON.stringify for escaping.
 */
export function encodeForecast(f: Forecast): string {
  // Series that share a step length close their steps at the same instants, so consecutive
  // forecasts mostly share ts, step and the horizons' ts: their text is kept from the last one.
  if (f.ts !== headTs || f.step !== headStep) {
    headTs = f.ts;
    headStep = f.step;
    headText = `,"ts":${f.ts},"step":${f.step},"forecast":[`;
  }
  let out = `{"series":${JSON.stringify(f.series)}${headText}`;
  const hs = f.forecast;
  for (let i = 0; i < hs.length; i++) {
    const h = hs[i]!;
    let head = horizonHeads[i];
    if (head === undefined || head.h !== h.h || head.ts !== h.ts) horizonHeads[i] = head = { h: h.h, ts: h.ts, text: `{"h":${h.h},"ts":${h.ts},"mean":` };
    out += `${i > 0 ? ',' : ''}${head.text}${h.mean},"q":{`;
    let first = true;
    for (const k in h.q) {
      let kt = keyText.get(k);
      if (kt === undefined) {
        kt = `${JSON.stringify(k)}:`;
        if (keyText.size < 1024) keyText.set(k, kt);
      }
      out += `${first ? '' : ','}${kt}${h.q[k]}`;
      first = false;
    }
    out += '}}';
  }
  const m = f.model;
  // Compared by value: nothing promises that a model's info object is never reused with new values.
  if (m.name !== lastModel.name || m.version !== lastModel.version || m.kind !== lastModel.kind) {
    lastModel = { name: m.name, version: m.version, kind: m.kind };
    lastModelText = `],"model":{"name":${JSON.stringify(m.name)},"version":${m.version},"kind":${JSON.stringify(m.kind)}},"imputed":`;
  }
  return `${out}${lastModelText}${f.imputed}}`;
}
