import type { EventListener } from '../observability/events.js';

/**
 * Turns a polled readiness probe (what /readyz answers) into `readiness` events, emitted on the
 * first check and on every change, so that `streamcast_ready` follows /readyz without a scrape
 * of its own. Returns the check; the caller decides how often to run it.
 */
export function readinessReporter(probe: () => { readonly ready: boolean }, events: EventListener): () => boolean {
  let last: boolean | undefined;
  return () => {
    const { ready } = probe();
    if (ready !== last) {
      last = ready;
      events({ type: 'readiness', ready });
    }
    return ready;
  };
}
