import type { Forecast, HorizonForecast, ModelInfo, QuantileKey } from '../domain/forecast.js';
import type { SeriesId } from '../domain/point.js';
import { SeriesSlots, SlotPages, pageBitsFor } from '../domain/seriesSlots.js';

/**
 * What the forecasts of one pipeline share and a series' row leaves out: step, imputed flag,
 * model, and per horizon its h, its target's distance from the origin and its quantile keys (in
 * the order the forecast object holds them, which is the order JSON.stringify writes them).
 */
interface Shape {
  readonly id: number;
  readonly key: string;
  readonly step: number;
  readonly imputed: boolean;
  readonly model: ModelInfo;
  readonly hs: readonly number[];
  readonly dts: readonly number[];
  readonly keys: readonly (readonly QuantileKey[])[];
  /** Numbers per row after the origin: per horizon its mean and quantiles. */
  readonly width: number;
  /** Rows that use it; at 0 it is forgotten (model versions come and go). */
  refs: number;
}

/** The rows of one width: a slot per series, its origin and numbers, and its shape's id. */
interface Rows {
  readonly width: number;
  readonly slots: SeriesSlots;
  readonly values: SlotPages<Float64Array>;
  readonly shapes: SlotPages<Int32Array>;
}

/**
 * The latest forecast of every series, for `GET /series/:id`. A Forecast object of 12 horizons
 * and 3 quantiles costs ~2.3 KB of heap (the objects, their quantile records and ~60 boxed
 * numbers); kept for every live series it was half of what the live process held beyond its
 * checkpointed state. Here a series costs a row of float64s (origin, then mean and quantiles per
 * horizon: 392 B for that forecast) in typed-array pages indexed by a dense slot, plus ~24 B of
 * index; everything the forecasts of a pipeline share (step, model, horizons, quantile keys) is
 * kept once per distinct shape. `get` rebuilds an object whose JSON is the original's, key for
 * key and number for number (float64 holds every number exactly).
 *
 * A forecast that does not fit a shape exactly (a horizon's ts not an exact distance from the
 * origin, a series argument other than its `series`) is kept as the object it is.
 *
 * The caller forgets a series with `delete` when the state store drops it (eviction, expiry,
 * revocation): otherwise this map grows with every series ever seen.
 */
export class LatestForecasts {
  readonly #rows: Rows[] = [];
  readonly #shapes: (Shape | undefined)[] = [];
  readonly #shapeIds = new Map<string, number>();
  readonly #freeShapes: number[] = [];
  readonly #irregular = new Map<SeriesId, Forecast>();
  /** The shape the last forecast had: the next one almost always has it too. */
  #last: Shape | undefined;

  /** Series with a latest forecast. */
  get size(): number {
    let n = this.#irregular.size;
    for (const r of this.#rows) n += r.slots.size;
    return n;
  }

  /** Distinct shapes in use (for tests: they are forgotten with their last row). */
  get shapeCount(): number {
    return this.#shapeIds.size;
  }

  has(series: SeriesId): boolean {
    if (this.#irregular.has(series)) return true;
    for (const r of this.#rows) if (r.slots.has(series)) return true;
    return false;
  }

  /** Keeps `f` as the latest forecast of `series` (replacing the previous one). */
  set(series: SeriesId, f: Forecast): this {
    const shape = series === f.series ? this.#shapeOf(f) : undefined;
    if (shape === undefined) {
      this.#deleteRow(series);
      this.#irregular.set(series, f);
      return this;
    }
    if (this.#irregular.size > 0) this.#irregular.delete(series);
    let rows: Rows | undefined;
    for (const r of this.#rows) {
      if (r.width === shape.width) rows = r;
      else this.#deleteFrom(r, series);
    }
    rows ??= this.#addRows(shape.width);
    let slot = rows.slots.get(series);
    if (slot === undefined) {
      slot = rows.slots.add(series);
      rows.values.ensure(slot);
      rows.shapes.ensure(slot);
    } else {
      const old = rows.shapes.page(slot)[rows.shapes.offset(slot)]!;
      if (old !== shape.id) this.#release(old);
      else shape.refs--; // counted again below
    }
    shape.refs++;
    rows.shapes.page(slot)[rows.shapes.offset(slot)] = shape.id;
    const row = rows.values.page(slot);
    let o = rows.values.offset(slot);
    row[o++] = f.ts;
    const hs = f.forecast;
    for (let i = 0; i < hs.length; i++) {
      const c = hs[i]!;
      row[o++] = c.mean;
      const q = c.q;
      for (const k in q) row[o++] = q[k]!;
    }
    return this;
  }

  /** The latest forecast of `series` (a new object whose JSON is the one kept), or undefined. */
  get(series: SeriesId): Forecast | undefined {
    const kept = this.#irregular.get(series);
    if (kept !== undefined) return kept;
    for (const r of this.#rows) {
      const slot = r.slots.get(series);
      if (slot === undefined) continue;
      const shape = this.#shapes[r.shapes.page(slot)[r.shapes.offset(slot)]!]!;
      const row = r.values.page(slot);
      let o = r.values.offset(slot);
      const ts = row[o++]!;
      const forecast: HorizonForecast[] = [];
      for (let i = 0; i < shape.hs.length; i++) {
        const mean = row[o++]!;
        const q: Record<QuantileKey, number> = {};
        for (const k of shape.keys[i]!) q[k] = row[o++]!;
        forecast.push({ h: shape.hs[i]!, ts: ts + shape.dts[i]!, mean, q });
      }
      const { name, version, kind } = shape.model;
      return { series, ts, step: shape.step, forecast, model: { name, version, kind }, imputed: shape.imputed };
    }
    return undefined;
  }

  /** Forgets `series`; true when it had a forecast. */
  delete(series: SeriesId): boolean {
    const kept = this.#irregular.delete(series);
    return this.#deleteRow(series) || kept;
  }

  #deleteRow(series: SeriesId): boolean {
    let found = false;
    for (const r of this.#rows) found = this.#deleteFrom(r, series) || found;
    return found;
  }

  #deleteFrom(r: Rows, series: SeriesId): boolean {
    const slot = r.slots.delete(series);
    if (slot === undefined) return false;
    this.#release(r.shapes.page(slot)[r.shapes.offset(slot)]!);
    return true;
  }

  #addRows(width: number): Rows {
    const stride = 1 + width;
    const rows: Rows = {
      width,
      slots: new SeriesSlots(),
      values: new SlotPages(stride, (n) => new Float64Array(n), 16, pageBitsFor(stride * 8)),
      shapes: new SlotPages(1, (n) => new Int32Array(n)),
    };
    this.#rows.push(rows);
    return rows;
  }

  /** The shape of `f` (interned), or undefined when `f` does not fit one exactly. */
  #shapeOf(f: Forecast): Shape | undefined {
    const last = this.#last;
    if (last !== undefined && fits(last, f)) return last;
    const hs: number[] = [];
    const dts: number[] = [];
    const keys: QuantileKey[][] = [];
    let width = 0;
    for (const c of f.forecast) {
      const dt = c.ts - f.ts;
      if (f.ts + dt !== c.ts) return undefined;
      const ks: QuantileKey[] = [];
      for (const k in c.q) ks.push(k);
      hs.push(c.h);
      dts.push(dt);
      keys.push(ks);
      width += 1 + ks.length;
    }
    const m = f.model;
    // JSON.stringify writes NaN and ±Infinity as null both in this key and in the answer, so
    // shapes that share a key answer the same text.
    const key = JSON.stringify([f.step, f.imputed, m.name, m.version, m.kind, hs, dts, keys]);
    const known = this.#shapeIds.get(key);
    if (known !== undefined) {
      const shape = this.#shapes[known]!;
      if (!fits(shape, f)) return undefined;
      this.#last = shape;
      return shape;
    }
    const id = this.#freeShapes.pop() ?? this.#shapes.length;
    const shape: Shape = { id, key, step: f.step, imputed: f.imputed, model: { name: m.name, version: m.version, kind: m.kind }, hs, dts, keys, width, refs: 0 };
    // A shape that does not recognise its own forecast (a NaN among its numbers) would be
    // re-interned for every forecast: such a forecast is kept as an object instead.
    if (!fits(shape, f)) {
      if (id !== this.#shapes.length) this.#freeShapes.push(id);
      return undefined;
    }
    this.#shapes[id] = shape;
    this.#shapeIds.set(key, id);
    this.#last = shape;
    return shape;
  }

  #release(id: number): void {
    const shape = this.#shapes[id]!;
    if (--shape.refs > 0) return;
    this.#shapes[id] = undefined;
    this.#shapeIds.delete(shape.key);
    this.#freeShapes.push(id);
    if (this.#last === shape) this.#last = undefined;
  }
}

/** Whether `f` has exactly `shape`: same step, flag, model, horizons, target offsets and quantile keys in order. */
function fits(shape: Shape, f: Forecast): boolean {
  if (f.step !== shape.step || f.imputed !== shape.imputed) return false;
  const m = f.model;
  if (m.name !== shape.model.name || m.version !== shape.model.version || m.kind !== shape.model.kind) return false;
  const hs = f.forecast;
  if (hs.length !== shape.hs.length) return false;
  for (let i = 0; i < hs.length; i++) {
    const c = hs[i]!;
    if (c.h !== shape.hs[i] || f.ts + shape.dts[i]! !== c.ts) return false;
    const keys = shape.keys[i]!;
    let j = 0;
    for (const k in c.q) if (k !== keys[j++]) return false;
    if (j !== keys.length) return false;
  }
  return true;
}
