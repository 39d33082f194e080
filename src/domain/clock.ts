/**
 * The only way logic learns the time. Production passes the wall clock at the composition root;
 * replays pass event time; tests pass a manual clock.
 */
export interface Clock {
  now(): number;
}

export const wallClock: Clock = { now: () => Date.now() };

/** A clock that tests (and event-time replays) move by hand. */
export class ManualClock implements Clock {
  constructor(private t = 0) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}
