/**
 * In-place updates that stalled (`AppliedRecord.stalled`): those on record, plus the `UpdateComponent`
 * entries that expired without effect in this pass. A mark stays on record while a scaler relies on it
 * (the host still runs the previous image and the scaler still wants that update); then it goes.
 */
import type { AppliedRecord, InFlight } from '../types.js';

export class StalledUpdates {
  private readonly marks = new Map<string, Map<string, string>>();
  private readonly used = new Map<string, Map<string, string>>();

  constructor(applied: readonly AppliedRecord[], expired: readonly InFlight[]) {
    for (const r of applied) if (r.stalled) this.marks.set(r.app, new Map(Object.entries(r.stalled)));
    for (const f of expired) {
      const c = f.command;
      if (c.kind !== 'UpdateComponent') continue;
      let m = this.marks.get(c.model_name);
      if (!m) this.marks.set(c.model_name, (m = new Map()));
      m.set(`${c.host_id}/${c.component_id}`, c.new_component_ref);
    }
  }

  readonly has = (app: string, host: string, componentId: string, image: string): boolean => this.marks.get(app)?.get(`${host}/${componentId}`) === image;

  readonly keep = (app: string, host: string, componentId: string, image: string): void => {
    let m = this.used.get(app);
    if (!m) this.used.set(app, (m = new Map()));
    m.set(`${host}/${componentId}`, image);
  };

  keptApps(): string[] {
    return [...this.used.keys()];
  }

  kept(app: string): Record<string, string> | undefined {
    const m = this.used.get(app);
    if (!m || m.size === 0) return undefined;
    const out: Record<string, string> = {};
    for (const k of [...m.keys()].sort()) out[k] = m.get(k)!;
    return out;
  }
}
