/**
 * A command worker that stalls after it checked a command and before the request is on the wire (a
 * SIGSTOP, a frozen VM, a long GC pause landing at that moment) must not send it on resume: by then
 * another owner may hold the lattice and the app may be gone. The worker checks once more, synchronously,
 * right before it writes the request to the socket, and leaves the command to be redelivered.
 *
 * The stall is made deterministic here: the last asynchronous guard (`appDeployed`) says yes and, as it
 * does, the replica stops being current, exactly as if the process had been frozen right after that
 * check. Without the synchronous check at write time the request goes out (what the SIGSTOP test saw
 * once under load: requests checked before the freeze, sent 4 ms after SIGCONT).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { NatsConnection } from '@nats-io/transport-node';
import { CommandWorker, ensureCommandResources, publishCommand, type Command } from '@wadm-ts/reconcile';
import { jetStreamContext, type JetStreamContext } from '@wadm-ts/store';
import { Metrics, createLogger } from '@wadm-ts/obs';
import { silent } from './harness/replicas.js';
import { startNats, waitFor, type TestNats } from './harness/nats.js';

const LATTICE = 'stall';
let nats: TestNats;
let nc: NatsConnection;
let ctx: JetStreamContext;

before(async () => {
  nats = await startNats();
  nc = await nats.connect();
  ctx = await jetStreamContext(nc);
  await ensureCommandResources(ctx);
});
after(async () => {
  await nats.stop();
});

const scale: Command = {
  kind: 'ScaleComponent',
  component_id: 'stall-web',
  host_id: 'NHOST',
  count: 1,
  reference: 'reg/web:1',
  model_name: 'stall',
  annotations: {},
  config: [],
};

test('a worker stalled between its checks and the socket write does not send the request; it is redelivered once the worker is current again', async () => {
  let current = true;
  let stallOnCheck = true;
  const metrics = new Metrics();
  const worker = new CommandWorker({
    nc,
    ctx,
    logger: createLogger({ replica: 'stall', level: 'silent', destination: silent }),
    metrics,
    guards: {
      epochOf: () => 1,
      caughtUp: async () => current,
      currentNow: () => current,
      hostGone: () => false,
      appDeployed: async () => {
        // The freeze lands right after the last check said yes.
        if (stallOnCheck) current = false;
        return true;
      },
    },
  });
  const requests: string[] = [];
  const host = await nats.connect();
  host.subscribe(`wasmbus.ctl.v1.${LATTICE}.component.scale.>`, {
    callback: (_e, m) => {
      requests.push(m.subject);
      m.respond(JSON.stringify({ success: true, message: '', response: null }));
    },
  });
  await host.flush();
  const deferred = async (): Promise<number> => {
    const counted = await metrics.counter('wadm_commands_total', '', ['type', 'result']).get();
    return counted.values.find((v) => v.labels.type === 'ScaleComponent' && v.labels.result === 'deferred')?.value ?? 0;
  };
  await worker.start();
  try {
    await publishCommand(ctx, { lattice: LATTICE }, [scale], 'stall-1', { epoch: 1 });
    // Either the worker defers it (the fix) or the request reaches the host (the defect).
    await waitFor(async () => requests.length > 0 || (await deferred()) > 0, 10_000, 'the command was deferred or sent');
    // Anything already written would be on the host's side after a round trip through the server.
    await nc.flush();
    await host.flush();
    assert.deepEqual(requests, [], 'no request sent by a worker that stalled after checking it');
    // Current again: the message comes back after ack_wait and goes out once.
    stallOnCheck = false;
    current = true;
    await waitFor(() => requests.length > 0, 10_000, 'the deferred command was redelivered and sent');
    assert.deepEqual(requests, [`wasmbus.ctl.v1.${LATTICE}.component.scale.NHOST`]);
  } finally {
    await worker.stop();
  }
});
