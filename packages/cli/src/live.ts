/**
 * Live views of the CLI: `app status --watch` and `app list --watch` redraw when a status changes (they
 * listen on `wadm.status.{lattice}.*`, where owners publish every change), and `app deploy` follows the
 * deploy until `deployed` or `failed` (always in a terminal, with `--wait` in scripts).
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { statusFromWire, type Status } from '@wadm-ts/model';

export interface LiveOutput {
  /** A terminal: redraw in place; otherwise print each rendering after the previous one. */
  tty: boolean;
  write(text: string): void;
}

export const stdoutLive = (): LiveOutput => ({ tty: process.stdout.isTTY === true, write: (t) => void process.stdout.write(t) });

/** Resolves on SIGINT or SIGTERM (the end of a watch). */
export function untilInterrupted(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/**
 * Draw `render()` now and again after every message on `subject` (coalesced over 100 ms), until `until`
 * resolves.
 */
export async function watchAndRedraw(nc: NatsConnection, subject: string, render: () => Promise<string[]>, out: LiveOutput, until: Promise<void>): Promise<void> {
  const sub = nc.subscribe(subject);
  let timer: NodeJS.Timeout | undefined;
  let drawing = Promise.resolve();
  const draw = (): void => {
    drawing = drawing.then(async () => {
      const lines = await render().catch((err: unknown) => [`(could not refresh: ${(err as Error).message})`]);
      out.write(out.tty ? `\x1b[2J\x1b[H${lines.join('\n')}\n` : `${lines.join('\n')}\n\n`);
    });
  };
  draw();
  void (async () => {
    for await (const _m of sub) {
      if (timer) continue;
      timer = setTimeout(() => {
        timer = undefined;
        draw();
      }, 100);
    }
  })();
  await until;
  if (timer) clearTimeout(timer);
  sub.unsubscribe();
  await drawing;
}

export interface FollowOptions {
  lattice: string;
  name: string;
  timeoutMs: number;
  /** Called with every status seen (progress). */
  onStatus(s: Status): void;
  /** The current status from the API (polled, in case a message is missed). */
  poll(): Promise<Status | undefined>;
  /** The deploy changed nothing (the version was already deployed): the current status is the answer. */
  noop: boolean;
}

/**
 * Follow an app's status after its deploy was acknowledged: resolves with the first `deployed` or
 * `failed` status published after the deploy (or the current one for a deploy that changed nothing).
 * `sub` must have been subscribed before the deploy call, so no status is missed.
 */
export async function followDeploy(sub: AsyncIterable<{ string(): string }> & { unsubscribe(): void }, o: FollowOptions): Promise<Status | 'timeout'> {
  let seenAfterDeploy = o.noop;
  let last = '';
  const settle = (s: Status | undefined): Status | undefined => {
    if (!s) return undefined;
    const key = `${s.status.type}|${s.status.message}`;
    if (key !== last) {
      last = key;
      o.onStatus(s);
    }
    return seenAfterDeploy && (s.status.type === 'deployed' || s.status.type === 'failed') ? s : undefined;
  };
  return new Promise<Status | 'timeout'>((resolve) => {
    let finished = false;
    const finish = (r: Status | 'timeout'): void => {
      if (finished) return;
      finished = true;
      clearTimeout(deadline);
      clearInterval(poller);
      sub.unsubscribe();
      resolve(r);
    };
    const deadline = setTimeout(() => finish('timeout'), o.timeoutMs);
    const poller = setInterval(() => {
      void o.poll().then((s) => {
        const r = settle(s);
        if (r) finish(r);
      }, () => undefined);
    }, 1000);
    void (async () => {
      for await (const m of sub) {
        seenAfterDeploy = true;
        let s: Status | undefined;
        try {
          s = statusFromWire(JSON.parse(m.string()));
        } catch {
          s = undefined;
        }
        const r = settle(s);
        if (r) return finish(r);
      }
    })();
    if (o.noop) {
      void o.poll().then((s) => {
        const r = settle(s);
        if (r) finish(r);
      }, () => undefined);
    }
  });
}

