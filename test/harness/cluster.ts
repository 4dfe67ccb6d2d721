/** Helpers over a set of in-process replicas: metric sums, quiescence, eventually-assertions. */
import type { Replica } from '@wadm-ts/cli';
import { waitFor } from './nats.js';

/** Sum of a metric's values across replicas, optionally only the series with the given labels. */
export async function metricSum(replicas: readonly Replica[], name: string, labels: Record<string, string> = {}): Promise<number> {
  let n = 0;
  for (const r of replicas) {
    const m = r.metrics.registry.getSingleMetric(name);
    if (!m) continue;
    for (const v of (await m.get()).values) if (Object.entries(labels).every(([k, x]) => v.labels[k] === x)) n += v.value;
  }
  return n;
}

/** Wait until the replicas have run `passes` more reconciles (the resync timer drives them): quiet enough to count commands. */
export async function settle(replicas: readonly Replica[], passes = 3): Promise<void> {
  const start = await metricSum(replicas, 'wadm_reconciles_total');
  await waitFor(async () => (await metricSum(replicas, 'wadm_reconciles_total')) >= start + passes, 15_000, `${passes} more reconcile passes`);
}

/** Run `check` until it passes (no fixed sleeps); on timeout fail with its last assertion error. */
export async function eventually(what: string, check: () => Promise<void> | void, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    async () => {
      await check();
      return true;
    },
    timeoutMs,
    what,
  );
}
