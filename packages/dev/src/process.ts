/**
 * One nats-server process that can be killed and started again with the same arguments, and the
 * `LocalNats` handle over it (single servers and cluster nodes alike). Children still running when this
 * process exits are killed with it. The only place wadm-ts spawns nats-server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { waitReachable } from './probes.js';

export interface LocalNats {
  url: string;
  host: string;
  port: number;
  storeDir: string;
  /** Pid of the current process (changes on restart; undefined while killed). */
  readonly pid: number | undefined;
  /** True while the server process runs. */
  running(): boolean;
  /** Kill the process (SIGKILL by default) and wait for it to exit; the store directory is kept. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start the server again on the same port and store directory (after kill, or kills first when running). */
  restart(opts?: { signal?: NodeJS.Signals }): Promise<void>;
  /** Stop for good (SIGTERM, SIGKILL after 5 s) and remove the store when it was a temp dir. */
  stop(): Promise<void>;
}

export class NatsServerMissingError extends Error {
  constructor(binary: string) {
    super(
      `'${binary}' was not found on PATH. Install NATS server 2.9 or later, for example ` +
        '`apt-get install -y nats-server` (Debian/Ubuntu) or download it from the NATS releases, ' +
        'or point WADM_NATS_SERVER at a running server.',
    );
    this.name = 'NatsServerMissingError';
  }
}
/** Children still running when this process exits (even by an uncaught exception) are killed with it. */
const liveChildren = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  if (exitHook) return;
  exitHook = true;
  process.once('exit', () => {
    for (const c of liveChildren) c.kill('SIGKILL');
  });
}

/** One nats-server process that can be killed and started again with the same arguments. */
export class NatsProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly tail: string[] = [];

  constructor(
    private readonly binary: string,
    private readonly args: string[],
    readonly url: string,
    private readonly onLog?: (line: string) => void,
  ) {}

  get pid(): number | undefined {
    return this.running() ? this.child?.pid : undefined;
  }

  running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    if (this.running()) return;
    const child = spawn(this.binary, this.args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    track(child);
    this.exited = new Promise<void>((r) => child.once('exit', () => r()));
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ENOENT' ? new NatsServerMissingError(this.binary) : err));
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      for (const line of chunk.split('\n')) {
        if (!line.trim()) continue;
        this.tail.push(line);
        if (this.tail.length > 20) this.tail.shift();
        this.onLog?.(line);
      }
    });
    try {
      await waitReachable(this.url, child, 15_000);
    } catch (err) {
      child.kill('SIGKILL');
      throw new Error(`${(err as Error).message}; last log lines: ${this.tail.slice(-5).join(' | ')}`, { cause: err });
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || !this.running()) return;
    child.kill(signal);
    const t = signal === 'SIGKILL' ? undefined : setTimeout(() => child.kill('SIGKILL'), 5000);
    await this.exited;
    if (t) clearTimeout(t);
  }
}

export function processHandle(proc: NatsProcess, base: { url: string; host: string; port: number; storeDir: string }, cleanup: () => Promise<void>): LocalNats {
  let stopped: Promise<void> | undefined;
  return {
    ...base,
    get pid() {
      return proc.pid;
    },
    running: () => proc.running(),
    kill: (signal) => proc.kill(signal ?? 'SIGKILL'),
    async restart(opts = {}): Promise<void> {
      if (stopped) throw new Error(`nats-server at ${base.url} was stopped; it cannot be restarted`);
      await proc.kill(opts.signal ?? 'SIGKILL');
      await proc.start();
    },
    stop(): Promise<void> {
      stopped ??= (async () => {
        await proc.kill('SIGTERM');
        await cleanup();
      })();
      return stopped;
    },
  };
}
