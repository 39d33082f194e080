/**
 * The newest values of one series, for the lag experts: a ring that starts small and doubles up to
 * `capacity` as the series grows (a series of a few points costs a few values). Float32: an
 * expert needs no more than 7 digits, and a week of 5-minute steps is then 8 KB. Values are the
 * steps' values, imputed or not, as the baselines learn them.
 */
export class LagValues {
  #values: Float32Array;
  /** Values learned since the last clear (may exceed the capacity). */
  #filled = 0;
  #head = 0;
  /** Values pushed ever (clear does not reset it): a change of it means the values changed. */
  #pushes = 0;
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
    this.#values = new Float32Array(Math.min(8, capacity));
  }

  get filled(): number {
    return this.#filled;
  }

  /** Values pushed over the ring's life, clears included: equal counts mean the same values. */
  get pushes(): number {
    return this.#pushes;
  }

  get bytes(): number {
    return this.#values.byteLength;
  }

  push(value: number): void {
    if (this.#filled < this.#capacity && this.#filled === this.#values.length) {
      const grown = new Float32Array(Math.min(this.#capacity, 2 * this.#values.length));
      grown.set(this.#values);
      this.#values = grown;
    }
    this.#values[this.#head] = value;
    this.#head = (this.#head + 1) % this.#values.length;
    this.#filled++;
    this.#pushes++;
  }

  /** The value `age` steps before the newest (0: the newest); NaN when not held. */
  at(age: number): number {
    if (age < 0 || age >= Math.min(this.#filled, this.#values.length)) return Number.NaN;
    const n = this.#values.length;
    return this.#values[(this.#head - 1 - age + 2 * n) % n]!;
  }

  clear(): void {
    this.#filled = 0;
    this.#head = 0;
  }

  /**
   * Seasonal-naive forecast `h` steps ahead of the newest value at `season` steps: the value
   * season·⌈h/season⌉ − h steps before the newest; the newest value until a season was seen
   * (as the seasonal-naive baseline does).
   */
  seasonal(season: number, h: number): number {
    if (this.#filled === 0) return Number.NaN;
    if (season <= 1 || this.#filled < season) return this.at(0);
    return this.at(season * Math.ceil(h / season) - h);
  }
}
