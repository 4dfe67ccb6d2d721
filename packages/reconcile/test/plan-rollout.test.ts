/**
 * Zero-downtime image upgrades in the planner: budget math (`chooseMoves`), components updated in place
 * host by host, providers replaced host by host (start before stop where a spare host exists), the
 * one-at-a-time fallback, unchanged resources untouched, and the host's bogus `max_instances: 0` event
 * after a `component.update`.
 *
 * `Rollout` drives the planner with commands in flight: each round plans (in-flight entries hold their
 * commands back), then the hosts complete the oldest in-flight command only, so the planner sees every
 * intermediate state. At every round the instances of the entity that run and are not being updated or
 * stopped are counted against the floor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { minAvailable } from '@wadm-ts/model';
import { chooseMoves, commandKey, isSatisfied, planLattice, workloadScalerId, type RolloutCandidate } from '../src/plan/index.js';
import { toCtlRequest } from '../src/runtime/ctl.js';
import { isConstructive } from '../src/runtime/commands.js';
import type { Command, InFlight, ObservedLattice, PlanOutput } from '../src/types.js';
import { appHeader, capability, component, HTTP } from './fixtures.js';
import { applyToObserved, deployed, host, observedWith, SCALER } from './plan-sim.js';

const ECHO1 = 'ghcr.io/wasmcloud/components/echo-messaging-rust:0.1.0';
const ECHO2 = 'ghcr.io/wasmcloud/components/echo-messaging-rust:0.2.0';
const HELLO = 'ghcr.io/wasmcloud/components/http-hello-world-rust:0.1.0';
const HTTP2 = 'ghcr.io/wasmcloud/http-server:0.24.0';

const policy = (mu: number | undefined): string =>
  mu === undefined
    ? '\n'
    : `
  policies:
    - name: rollout
      type: rollout
      properties: { maxUnavailable: ${mu} }
`;

const echoApp = (image: string, instances: number, mu?: number, withHello = true): string =>
  appHeader('app') + component('echo', image, instances) + (withHello ? component('hello', HELLO, 2) : '') + policy(mu);
const httpApp = (image: string, instances: number, mu?: number): string => appHeader('app') + capability('http', image, instances) + policy(mu);

const hosts = (n: number) => Array.from({ length: n }, (_, i) => host(`h${i + 1}`));

class Rollout {
  observed: ObservedLattice;
  inflight: InFlight[] = [];
  apps = [deployed(echoApp(ECHO1, 3))];
  now = 1_000_000;
  readonly history: PlanOutput[] = [];
  /** Hosts where the next completion is the host's second, bogus `component_scaled` (max 0) after an update. */
  bogusZero = false;
  /** Instances the bogus event removed from the observed state (still running on the host): `host:id` → count. */
  readonly bogusGone = new Map<string, number>();

  constructor(n: number) {
    this.observed = observedWith(hosts(n));
  }

  plan(): PlanOutput {
    return planLattice({ lattice: 'default', now: this.now, apps: this.apps, applied: [], observed: this.observed, inflight: this.inflight });
  }

  /** Converge with every command completing at once (deploying the first version). */
  settle(): void {
    for (let i = 0; i < 20; i++) {
      const p = this.plan();
      if (p.commands.length === 0) return;
      this.observed = applyToObserved(this.observed, p.commands);
    }
    throw new Error('no convergence');
  }

  /** Plan, record what was issued as in flight, then let the hosts finish the oldest in-flight command. */
  round(): PlanOutput {
    const p = this.plan();
    this.history.push(p);
    for (const c of p.commands) this.inflight.push({ key: commandKey(c), command: c, issuedAt: this.now, expiresAt: this.now + 600_000 });
    this.now += 100;
    const next = this.inflight.shift();
    if (next) {
      const c = next.command;
      this.observed = applyToObserved(this.observed, [c]);
      if (c.kind === 'ScaleComponent') this.bogusGone.delete(`${c.host_id}:${c.component_id}`);
      if (this.bogusZero && c.kind === 'UpdateComponent') {
        // Right behind the first event: the host's second component_scaled, max_instances 0 (it keeps running).
        this.observed = { ...this.observed, components: this.observed.components.filter((x) => !(x.hostId === c.host_id && x.componentId === c.component_id)) };
        this.bogusGone.set(`${c.host_id}:${c.component_id}`, 1);
      }
    }
    return p;
  }

  /** Instances of the entity running and not being updated or stopped. */
  available(id: string): number {
    const moving = new Set(
      this.inflight
        .map((f) => f.command)
        .filter((c) => c.kind === 'UpdateComponent' || c.kind === 'StopProvider' || (c.kind === 'ScaleComponent' && c.count === 0))
        .map((c) => ('host_id' in c ? c.host_id : '')),
    );
    const comps = this.observed.components.filter((c) => c.componentId === id && !moving.has(c.hostId)).reduce((n, c) => n + c.maxInstances, 0);
    const provs = this.observed.providers.filter((p) => p.providerId === id && !moving.has(p.hostId)).length;
    const gone = [...this.bogusGone].filter(([k]) => k.endsWith(`:${id}`)).reduce((n, [, v]) => n + v, 0);
    return comps + provs + gone;
  }

  /** Rounds until nothing is in flight and a plan issues nothing; checks the floor after every round. */
  rollOut(id: string, floor: number, maxMoving = Number.POSITIVE_INFINITY, maxRounds = 60): number {
    for (let r = 0; r < maxRounds; r++) {
      const idle = this.inflight.length === 0;
      const p = this.round();
      const moves = this.inflight.filter((f) => f.command.kind === 'UpdateComponent' || f.command.kind === 'StopProvider' || (f.command.kind === 'ScaleComponent' && f.command.count === 0));
      assert.ok(moves.length <= maxMoving, `round ${r}: ${moves.length} moves in flight > ${maxMoving}`);
      assert.ok(this.available(id) >= floor, `round ${r}: ${this.available(id)} available < ${floor}; issued ${JSON.stringify(p.commands.map((c) => c.kind))}`);
      // Converged: nothing was under way and the plan issued nothing.
      if (p.commands.length === 0 && idle) return r;
    }
    throw new Error(`no convergence within ${maxRounds} rounds`);
  }

  images(id: string): string[] {
    return [...this.observed.components.filter((c) => c.componentId === id).map((c) => `${c.hostId}:${c.imageRef}:${c.maxInstances}`), ...this.observed.providers.filter((p) => p.providerId === id).map((p) => `${p.hostId}:${p.imageRef}`)].sort();
  }

  issued(): Command[] {
    return this.history.flatMap((p) => p.commands);
  }
}

const cand = (host: string, cost = 1, extra: Partial<RolloutCandidate> = {}): RolloutCandidate => ({
  host,
  cost,
  command: { kind: 'StopProvider', provider_id: 'p', host_id: host, model_name: 'app' },
  moving: false,
  excess: false,
  ...extra,
});

describe('rollout budget (chooseMoves)', () => {
  it('takes as many moves as keep the available instances at or above instances - maxUnavailable (never below 1)', () => {
    const three = [cand('h3'), cand('h1'), cand('h2')];
    const pick = (mu: number, available = 3, starting = 0) => chooseMoves({ candidates: three, available, target: 3, maxUnavailable: mu, starting, noRoom: false }).chosen.map((c) => c.host);
    assert.deepEqual(pick(1), ['h1']);
    assert.deepEqual(pick(2), ['h1', 'h2']);
    assert.deepEqual(pick(3), ['h1', 'h2'], 'never below 1 while instances >= 1');
    assert.deepEqual(pick(0), [], 'maxUnavailable 0: only start-before-stop');
    assert.deepEqual(pick(0, 4), ['h1'], 'a new instance started first gives room for one stop');
    assert.deepEqual(pick(1, 2), [], 'one down already');
    assert.equal(minAvailable(1, 1), 1);
  });

  it('counts moves in flight as unavailable, takes excess first, weighs counts', () => {
    const r = chooseMoves({ candidates: [cand('h1', 1, { moving: true }), cand('h2'), cand('h3', 1, { excess: true })], available: 3, target: 2, maxUnavailable: 1, starting: 0, noRoom: false });
    assert.deepEqual(r.chosen.map((c) => c.host), ['h3', 'h2']);
    assert.equal(r.floor, 1);
    const heavy = chooseMoves({ candidates: [cand('h1', 2), cand('h2', 2)], available: 4, target: 4, maxUnavailable: 2, starting: 0, noRoom: false });
    assert.deepEqual(heavy.chosen.map((c) => c.host), ['h1']);
  });

  it('without room: one move at a time, only once nothing is moving, starting or down', () => {
    const base = { target: 3, maxUnavailable: 0, noRoom: true };
    assert.deepEqual(chooseMoves({ ...base, candidates: [cand('h2'), cand('h1')], available: 3, starting: 0 }).chosen.map((c) => c.host), ['h1']);
    assert.deepEqual(chooseMoves({ ...base, candidates: [cand('h2'), cand('h1', 1, { moving: true })], available: 2, starting: 0 }).chosen, []);
    assert.deepEqual(chooseMoves({ ...base, candidates: [cand('h2')], available: 2, starting: 1 }).chosen, []);
    assert.deepEqual(chooseMoves({ ...base, candidates: [cand('h2')], available: 2, starting: 0 }).chosen, [], 'one down');
    assert.equal(chooseMoves({ ...base, candidates: [cand('h2')], available: 3, starting: 0 }).oneAtATime, true);
  });
});

describe('component image rollout (in place, component.update)', () => {
  for (const mu of [1, 2]) {
    it(`spread of 3 on 3 hosts, maxUnavailable ${mu}: at most ${mu} host(s) updated at once, never below ${3 - mu}, no stop, end state only the new image`, () => {
      const sim = new Rollout(3);
      sim.apps = [deployed(echoApp(ECHO1, 3, mu))];
      sim.settle();
      sim.apps = [deployed(echoApp(ECHO2, 3, mu), 'v2')];
      const first = sim.plan();
      const updates = first.commands.filter((c) => c.kind === 'UpdateComponent');
      assert.equal(updates.length, mu);
      assert.equal(first.commands.length, mu, 'nothing else is issued');
      const scaler = workloadScalerId('SpreadScaler', 'app', 'echo', 'app-echo', ECHO2, []);
      assert.deepEqual(updates[0], {
        kind: 'UpdateComponent',
        component_id: 'app-echo',
        host_id: 'h1',
        new_component_ref: ECHO2,
        model_name: 'app',
        annotations: { 'wasmcloud.dev/appspec': 'app', 'wasmcloud.dev/managed-by': 'wadm', [SCALER]: scaler, 'wasmcloud.dev/spread_name': 'default' },
      });
      const echo = first.statuses['app']!.scalers!.find((s) => s.name === 'app-echo')!;
      assert.deepEqual(echo.status, { type: 'reconciling', message: 'rolling out app-echo: 0 of 3 updated' });
      assert.equal(first.statuses['app']!.status.type, 'reconciling');
      sim.rollOut('app-echo', 3 - mu, mu);
      assert.deepEqual(sim.images('app-echo'), ['h1:' + ECHO2 + ':1', 'h2:' + ECHO2 + ':1', 'h3:' + ECHO2 + ':1']);
      const issued = sim.issued().filter((c) => (c.kind === 'UpdateComponent' || c.kind === 'ScaleComponent') && c.component_id === 'app-echo');
      assert.deepEqual(issued.map((c) => `${c.kind}:${'host_id' in c ? c.host_id : ''}`).sort(), ['UpdateComponent:h1', 'UpdateComponent:h2', 'UpdateComponent:h3']);
      const final = sim.plan();
      assert.deepEqual(final.commands, []);
      assert.deepEqual(final.statuses['app']!.status, { type: 'deployed' });
    });
  }

  it('unchanged components of the same app get no command', () => {
    const sim = new Rollout(3);
    sim.settle();
    sim.apps = [deployed(echoApp(ECHO2, 3), 'v2')];
    sim.rollOut('app-echo', 2);
    assert.ok(!sim.issued().some((c) => 'component_id' in c && c.component_id === 'app-hello'), 'hello untouched');
    assert.equal(sim.observed.components.filter((c) => c.componentId === 'app-hello').reduce((n, c) => n + c.maxInstances, 0), 2);
  });

  it('maxUnavailable 0 (no spare: components update in place): one host at a time, said in the status', () => {
    const sim = new Rollout(3);
    sim.apps = [deployed(echoApp(ECHO1, 3, 0))];
    sim.settle();
    sim.apps = [deployed(echoApp(ECHO2, 3, 0), 'v2')];
    const first = sim.plan();
    assert.deepEqual(first.commands.map((c) => `${c.kind}:${'host_id' in c ? c.host_id : ''}`), ['UpdateComponent:h1']);
    const echo = first.statuses['app']!.scalers!.find((s) => s.name === 'app-echo')!;
    assert.match(echo.status.message ?? '', /^rolling out app-echo: 0 of 3 updated, 1 host at a time \(maxUnavailable 0 leaves no room/);
    sim.rollOut('app-echo', 2, 1);
    assert.deepEqual(sim.images('app-echo'), ['h1:' + ECHO2 + ':1', 'h2:' + ECHO2 + ':1', 'h3:' + ECHO2 + ':1']);
  });

  it('instances 1: updated in place (one at a time), never stopped', () => {
    const sim = new Rollout(2);
    sim.apps = [deployed(echoApp(ECHO1, 1, undefined, false))];
    sim.settle();
    sim.apps = [deployed(echoApp(ECHO2, 1, undefined, false), 'v2')];
    const first = sim.plan();
    assert.equal(first.commands.length, 1);
    assert.equal(first.commands[0]!.kind, 'UpdateComponent');
    sim.rollOut('app-echo', 0);
    assert.equal(sim.images('app-echo').length, 1);
    assert.match(sim.images('app-echo')[0]!, /echo-messaging-rust:0\.2\.0:1$/);
    assert.ok(!sim.issued().some((c) => c.kind === 'ScaleComponent'));
  });

  it('image change with a scale-down: the excess goes, the floor of the new count holds, the rest is updated', () => {
    const sim = new Rollout(3);
    sim.settle();
    sim.apps = [deployed(echoApp(ECHO2, 2), 'v2')];
    sim.rollOut('app-echo', minAvailable(2, 1));
    assert.deepEqual(sim.images('app-echo').map((s) => s.replace(/^h\d:/, '')), [ECHO2 + ':1', ECHO2 + ':1']);
  });

  it('image change with a scale-up and no free host (2 → 3 on 2 hosts): no deadlock, the floor is taken from what runs', () => {
    const sim = new Rollout(2);
    sim.apps = [deployed(echoApp(ECHO1, 2, 1, false))];
    sim.settle();
    sim.apps = [deployed(echoApp(ECHO2, 3, 1, false), 'v2')];
    assert.deepEqual(sim.plan().commands.map((c) => c.kind), ['UpdateComponent'], 'one host at a time (1 of the 2 running may be down)');
    sim.rollOut('app-echo', 1, 1);
    assert.equal(sim.observed.components.filter((c) => c.componentId === 'app-echo').reduce((n, c) => n + c.maxInstances, 0), 3);
    assert.ok(sim.images('app-echo').every((x) => x.includes(ECHO2)), sim.images('app-echo').join(' '));
  });

  it('image change with a scale-up: new instances start on free hosts at once, the floor of the new count holds', () => {
    const sim = new Rollout(5);
    sim.settle();
    sim.apps = [deployed(echoApp(ECHO2, 5), 'v2')];
    const first = sim.plan();
    const echoCmds = first.commands.filter((c) => (c.kind === 'ScaleComponent' || c.kind === 'UpdateComponent') && c.component_id === 'app-echo');
    assert.deepEqual(echoCmds.map((c) => c.kind), ['ScaleComponent', 'ScaleComponent'], 'two new on the free hosts, no update while 3 < floor 4');
    sim.rollOut('app-echo', 3);
    assert.equal(sim.images('app-echo').filter((x) => x.includes(ECHO2)).length, 5);
    assert.equal(sim.images('app-echo').length, 5);
  });

  it('the host\'s second component_scaled (max_instances 0) after an update: one idempotent re-scale restores it, no storm, the floor still holds', () => {
    const sim = new Rollout(3);
    sim.bogusZero = true;
    sim.settle();
    sim.apps = [deployed(echoApp(ECHO2, 3), 'v2')];
    sim.round(); // issues the update of h1; the host reports it with the new image, then at max 0
    assert.ok(!sim.observed.components.some((c) => c.componentId === 'app-echo' && c.hostId === 'h1'));
    const p = sim.plan();
    const forH1 = p.commands.filter((c) => 'host_id' in c && c.host_id === 'h1');
    const scaler = workloadScalerId('SpreadScaler', 'app', 'echo', 'app-echo', ECHO2, []);
    assert.deepEqual(forH1, [
      {
        kind: 'ScaleComponent',
        component_id: 'app-echo',
        host_id: 'h1',
        count: 1,
        reference: ECHO2,
        model_name: 'app',
        annotations: { 'wasmcloud.dev/appspec': 'app', 'wasmcloud.dev/managed-by': 'wadm', [SCALER]: scaler, 'wasmcloud.dev/spread_name': 'default' },
        config: [],
      },
    ]);
    // h1 counts as down meanwhile: no second host is updated before it is back.
    assert.ok(!p.commands.some((c) => c.kind === 'UpdateComponent'));
    sim.rollOut('app-echo', 2);
    assert.deepEqual(sim.images('app-echo'), ['h1:' + ECHO2 + ':1', 'h2:' + ECHO2 + ':1', 'h3:' + ECHO2 + ':1']);
    const h1 = sim.issued().filter((c) => (c.kind === 'UpdateComponent' || c.kind === 'ScaleComponent') && c.host_id === 'h1' && c.component_id === 'app-echo');
    assert.deepEqual(h1.map((c) => c.kind), ['UpdateComponent', 'ScaleComponent'], 'one update and one re-scale per host, nothing stopped');
    assert.ok(!sim.issued().some((c) => c.kind === 'ScaleComponent' && c.count === 0));
  });
});

describe('an in-place update that does not take effect (the host only logs a failed update)', () => {
  it('is replaced on that host by stop and start, the mark stays on record while it matters, and goes after', () => {
    const sim = new Rollout(3);
    sim.apps = [deployed(echoApp(ECHO1, 3, 1, false))];
    sim.settle();
    sim.apps = [deployed(echoApp(ECHO2, 3, 1, false), 'v2')];
    const first = sim.plan();
    const update = first.commands.find((c) => c.kind === 'UpdateComponent')!;
    assert.equal(update.kind === 'UpdateComponent' && update.host_id, 'h1');
    // The update's in-flight entry expires and h1 still runs the old image.
    const expired: InFlight = { key: commandKey(update), command: update, issuedAt: sim.now, expiresAt: sim.now + 30_000 };
    sim.now += 31_000;
    const plan = (applied: PlanOutput['applied'], exp: InFlight[] = []): PlanOutput =>
      planLattice({ lattice: 'default', now: sim.now, apps: sim.apps, applied, observed: sim.observed, inflight: [], expired: exp });
    const after = plan([], [expired]);
    const onH1 = after.commands.filter((c) => 'host_id' in c && c.host_id === 'h1');
    assert.deepEqual(onH1.map((c) => (c.kind === 'ScaleComponent' ? `scale:${c.count}` : c.kind)), ['scale:0'], 'stopped, not updated again');
    const rec = after.applied.find((r) => r.app === 'app');
    assert.deepEqual(rec?.stalled, { 'h1/app-echo': ECHO2 });
    const echo = after.statuses['app']!.scalers!.find((x) => x.name === 'app-echo')!;
    assert.match(echo.status.message ?? '', /in-place update did not take effect in time on 1 host\(s\), replacing by stop and start/);
    // The mark on record (the in-flight entry purged): still stop and start there, never an update.
    const again = plan(after.applied);
    assert.deepEqual(again.commands.filter((c) => 'host_id' in c && c.host_id === 'h1').map((c) => c.kind), ['ScaleComponent']);
    // Once h1's old instance is gone, the new one is placed there (a start whose failure the host reports), and the mark goes.
    sim.observed = applyToObserved(sim.observed, again.commands.filter((c) => 'host_id' in c && c.host_id === 'h1'));
    const placed = plan(again.applied);
    const start = placed.commands.find((c) => c.kind === 'ScaleComponent' && c.host_id === 'h1');
    assert.ok(start && start.kind === 'ScaleComponent' && start.count === 1 && start.reference === ECHO2, JSON.stringify(placed.commands));
    assert.equal(placed.applied.find((r) => r.app === 'app')?.stalled, undefined);
  });

  it('without room for a host down (instances 1): updated again, nothing stopped, and the scaler says it failed', () => {
    const sim = new Rollout(3);
    sim.apps = [deployed(echoApp(ECHO1, 1, 1, false))];
    sim.settle();
    sim.apps = [deployed(echoApp(ECHO2, 1, 1, false), 'v2')];
    const update = sim.plan().commands.find((c) => c.kind === 'UpdateComponent')!;
    const expired: InFlight = { key: commandKey(update), command: update, issuedAt: sim.now, expiresAt: sim.now + 30_000 };
    sim.now += 31_000;
    const after = planLattice({ lattice: 'default', now: sim.now, apps: sim.apps, applied: [], observed: sim.observed, inflight: [], expired: [expired] });
    assert.deepEqual(after.commands.map((c) => c.kind), ['UpdateComponent']);
    const echo = after.statuses['app']!.scalers!.find((x) => x.name === 'app-echo')!;
    assert.equal(echo.status.type, 'failed');
    assert.match(echo.status.message ?? '', /component.update of app-echo to .* did not take effect in time on h\d \(a host reports a failed update only in its own log\); updating again/);
    assert.equal(after.statuses['app']!.status.type, 'failed');
  });
});

describe('provider image rollout (host by host)', () => {
  it('3 on 3 hosts, maxUnavailable 1: stop one, start the new there, wait for it before the next', () => {
    const sim = new Rollout(3);
    sim.apps = [deployed(httpApp(HTTP, 3))];
    sim.settle();
    sim.apps = [deployed(httpApp(HTTP2, 3), 'v2')];
    const first = sim.plan();
    assert.deepEqual(first.commands.map((c) => `${c.kind}:${'host_id' in c ? c.host_id : ''}`), ['StopProvider:h1']);
    assert.equal(first.statuses['app']!.scalers![0]!.status.message, 'rolling out app-http: 0 of 3 updated');
    sim.rollOut('app-http', 2, 1);
    assert.deepEqual(sim.images('app-http'), ['h1:' + HTTP2, 'h2:' + HTTP2, 'h3:' + HTTP2]);
    const seq = sim.issued().map((c) => `${c.kind}:${'host_id' in c ? c.host_id : ''}`);
    assert.deepEqual(seq, ['StopProvider:h1', 'StartProvider:h1', 'StopProvider:h2', 'StartProvider:h2', 'StopProvider:h3', 'StartProvider:h3']);
    assert.deepEqual(sim.plan().statuses['app']!.status, { type: 'deployed' });
  });

  it('3 on 4 hosts, maxUnavailable 0: start on the spare host first, then stop one old; never below 3', () => {
    const sim = new Rollout(4);
    sim.apps = [deployed(httpApp(HTTP, 3, 0))];
    sim.settle();
    const oldHosts = sim.observed.providers.map((p) => p.hostId).sort();
    assert.equal(oldHosts.length, 3);
    sim.apps = [deployed(httpApp(HTTP2, 3, 0), 'v2')];
    const first = sim.plan();
    assert.deepEqual(first.commands.map((c) => c.kind), ['StartProvider']);
    assert.ok(!oldHosts.includes((first.commands[0] as { host_id: string }).host_id), 'on the spare host');
    assert.doesNotMatch(first.statuses['app']!.scalers![0]!.status.message ?? '', /1 host at a time/);
    sim.rollOut('app-http', 3, 1);
    assert.equal(sim.images('app-http').filter((s) => s.endsWith(HTTP2)).length, 3);
    assert.equal(sim.images('app-http').length, 3);
  });

  it('instances 1 with a spare host: the new one is started on it before the old one stops', () => {
    const sim = new Rollout(2);
    sim.apps = [deployed(httpApp(HTTP, 1))];
    sim.settle();
    const old = sim.observed.providers[0]!.hostId;
    sim.apps = [deployed(httpApp(HTTP2, 1), 'v2')];
    sim.rollOut('app-http', 1, 1);
    const seq = sim.issued().map((c) => `${c.kind}:${'host_id' in c ? c.host_id : ''}`);
    const other = old === 'h1' ? 'h2' : 'h1';
    assert.deepEqual(seq, [`StartProvider:${other}`, `StopProvider:${old}`]);
    assert.deepEqual(sim.images('app-http'), [`${other}:${HTTP2}`]);
  });

  it('instances 1 on a single host: stopped, then started with the new image (said in the status)', () => {
    const sim = new Rollout(1);
    sim.apps = [deployed(httpApp(HTTP, 1))];
    sim.settle();
    sim.apps = [deployed(httpApp(HTTP2, 1), 'v2')];
    assert.match(sim.plan().statuses['app']!.scalers![0]!.status.message ?? '', /1 host at a time/);
    sim.rollOut('app-http', 0, 1);
    assert.deepEqual(sim.issued().map((c) => c.kind), ['StopProvider', 'StartProvider']);
    assert.deepEqual(sim.images('app-http'), [`h1:${HTTP2}`]);
  });

  it('3 on 3 hosts, maxUnavailable 0: impossible to start first, so one host at a time, said in the status', () => {
    const sim = new Rollout(3);
    sim.apps = [deployed(httpApp(HTTP, 3, 0))];
    sim.settle();
    sim.apps = [deployed(httpApp(HTTP2, 3, 0), 'v2')];
    const first = sim.plan();
    assert.deepEqual(first.commands.map((c) => `${c.kind}:${'host_id' in c ? c.host_id : ''}`), ['StopProvider:h1']);
    assert.match(first.statuses['app']!.scalers![0]!.status.message ?? '', /1 host at a time \(maxUnavailable 0 leaves no room and no host is spare/);
    sim.rollOut('app-http', 2);
    assert.deepEqual(sim.images('app-http'), ['h1:' + HTTP2, 'h2:' + HTTP2, 'h3:' + HTTP2]);
  });

  it('an undeployed app\'s instances and a removed component are still cleaned up at once', () => {
    const sim = new Rollout(3);
    sim.apps = [deployed(echoApp(ECHO1, 3))];
    sim.settle();
    // v2 drops hello: it is not an image change of anything v2 runs.
    sim.apps = [deployed(echoApp(ECHO1, 3, undefined, false), 'v2')];
    const p = sim.plan();
    const stops = p.commands.filter((c) => c.kind === 'ScaleComponent' && c.count === 0);
    assert.equal(stops.length, sim.observed.components.filter((c) => c.componentId === 'app-hello').length);
    assert.ok(stops.every((c) => c.kind === 'ScaleComponent' && c.component_id === 'app-hello'));
  });
});

describe('UpdateComponent', () => {
  const c: Command = {
    kind: 'UpdateComponent',
    component_id: 'app-echo',
    host_id: 'h1',
    new_component_ref: ECHO2,
    model_name: 'app',
    annotations: { 'wasmcloud.dev/appspec': 'app', 'wasmcloud.dev/managed-by': 'wadm', [SCALER]: 's2', 'wasmcloud.dev/spread_name': 'default' },
  };

  it('is a component.update request with the body in the host\'s field order', () => {
    const r = toCtlRequest(c, 'default');
    assert.equal(r.subject, 'wasmbus.ctl.v1.default.component.update.h1');
    assert.equal(
      r.body,
      `{"component_id":"app-echo","annotations":{"wasmcloud.dev/appspec":"app","wasmcloud.dev/managed-by":"wadm","wasmcloud.dev/scaler":"s2","wasmcloud.dev/spread_name":"default"},"host_id":"h1","new_component_ref":"${ECHO2}"}`,
    );
    assert.equal(toCtlRequest(c, 'default', 'ACCT').subject, 'ACCT.wasmbus.ctl.v1.default.component.update.h1');
    assert.ok(isConstructive(c), 'not sent for an undeployed app');
  });

  it('shares its target with ScaleComponent (a newer decision supersedes it) and is done once the host shows the new image for that scaler', () => {
    assert.equal(commandKey(c), 'component:h1:app-echo');
    const at = (image: string, scaler: string) =>
      observedWith([host('h1')], { components: [{ kind: 'component', hostId: 'h1', componentId: 'app-echo', imageRef: image, maxInstances: 1, annotations: { [SCALER]: scaler }, seq: 1 }] });
    assert.equal(isSatisfied(c, at(ECHO1, 's1')), false);
    assert.equal(isSatisfied(c, at(ECHO2, 's1')), false);
    assert.equal(isSatisfied(c, at(ECHO2, 's2')), true);
    assert.equal(isSatisfied(c, observedWith([host('h1')])), false);
  });
});
