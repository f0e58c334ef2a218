// Two network namespaces joined by a veth pair, for the tests (and the fault harness) that need a real
// link: create, address, shape with tc tbf, drop with nftables, run processes inside, tear down. Teardown
// never leaks a namespace: setup() deletes what it made when a step fails, dispose() is idempotent and
// says what it could not delete, and an 'exit' hook deletes whatever a caller left behind.
import { type ChildProcess, execFileSync, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A command a netns scenario may need. */
export type NetTool = 'ip' | 'tc' | 'nft';

const INSTALL: Record<NetTool, string> = {
  ip: 'needs iproute2 (`ip`): apt-get install -y iproute2',
  tc: 'needs tc (iproute2): apt-get install -y iproute2',
  nft: 'needs nftables (`nft`): apt-get install -y nftables',
};

/** Whether `command` is on PATH. */
export function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** Why namespaces with `tools` cannot be used here (not Linux, not root, a tool missing), or undefined. */
export function netnsSkipReason(tools: readonly NetTool[] = ['ip']): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const missing = tools.find((tool) => !hasCommand(tool));
  return missing ? INSTALL[missing] : undefined;
}

function run(command: string, args: string[], input?: string): string {
  return execFileSync(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 10_000,
    ...(input === undefined ? {} : { input }),
  }).toString();
}

const live = new Set<NetnsPair>();
let exitHook = false;

/** The nftables table `drop()` fills. */
const NFT_TABLE = 'tmesh_fault';

/**
 * Namespaces `a` and `b` (`tmesh-<tag>-<random>-a|b`) joined by a veth pair (`devA` in a, `devB` in b)
 * with `ipA` and `ipB` in a random 10.x.y.0/24. Deleting a namespace destroys the veth ends inside it, and
 * with them the pairs (host-side ends included), so deleting the two namespaces removes everything.
 */
export class NetnsPair {
  readonly suffix = randomBytes(3).toString('hex');
  readonly a: string;
  readonly b: string;
  readonly devA = `tm${this.suffix}a`;
  readonly devB = `tm${this.suffix}b`;
  /** The first three octets of the pair's /24: the pair has .1 and .2, `linkToHost` uses addresses above. */
  readonly net = `10.${150 + (randomBytes(1)[0]! % 100)}.${randomBytes(1)[0]!}`;
  readonly ipA = `${this.net}.1`;
  readonly ipB = `${this.net}.2`;
  readonly #prefixLength: 24 | 30;
  readonly #created: string[] = [];
  readonly #hostDevs: string[] = [];

  /** `tag`: a few letters saying whose namespaces these are; `prefixLength` of ipA/ipB (default 30). */
  constructor(tag: string, options: { prefixLength?: 24 | 30 } = {}) {
    this.a = `tmesh-${tag}-${this.suffix}-a`;
    this.b = `tmesh-${tag}-${this.suffix}-b`;
    this.#prefixLength = options.prefixLength ?? 30;
  }

  /** Create both namespaces, the veth pair, its addresses, and bring every link up (loopback too). */
  setup(): this {
    live.add(this);
    if (!exitHook) {
      exitHook = true;
      process.on('exit', () => {
        for (const pair of live) pair.dispose();
      });
    }
    try {
      for (const ns of [this.a, this.b]) {
        run('ip', ['netns', 'add', ns]);
        this.#created.push(ns);
      }
      run('ip', [
        'link',
        'add',
        this.devA,
        'netns',
        this.a,
        'type',
        'veth',
        'peer',
        'name',
        this.devB,
        'netns',
        this.b,
      ]);
      this.exec(this.a, 'ip', 'addr', 'add', `${this.ipA}/${this.#prefixLength}`, 'dev', this.devA);
      this.exec(this.b, 'ip', 'addr', 'add', `${this.ipB}/${this.#prefixLength}`, 'dev', this.devB);
      for (const [ns, dev] of [
        [this.a, this.devA],
        [this.b, this.devB],
      ] as const) {
        this.exec(ns, 'ip', 'link', 'set', 'lo', 'up');
        this.exec(ns, 'ip', 'link', 'set', dev, 'up');
      }
    } catch (error) {
      const failures = this.dispose();
      if (failures.length)
        throw new Error(`netns setup failed, then ${failures.join('; ')}`, { cause: error });
      throw error;
    }
    return this;
  }

  /** Run `command` inside `ns` and return its stdout; throws (with its stderr) when it fails. */
  exec(ns: string, command: string, ...args: string[]): string {
    return run('ip', ['netns', 'exec', ns, command, ...args]);
  }

  /** Start `command` inside `ns` as a child process. */
  spawn(ns: string, command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
    return spawn('ip', ['netns', 'exec', ns, command, ...args], options);
  }

  /**
   * Start `command` inside `ns` and resolve once its stdout matches `ready` (with the match); rejects when
   * it exits first or after `timeoutMs`. Its stderr goes to ours.
   */
  async start(
    ns: string,
    command: string,
    args: readonly string[],
    ready: RegExp,
    timeoutMs: number,
  ): Promise<{ proc: ChildProcess; match: RegExpExecArray }> {
    const proc = this.spawn(ns, command, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const match = await new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`${command} in ${ns} did not print ${ready} in ${timeoutMs} ms`));
      }, timeoutMs);
      let out = '';
      proc.stdout!.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const found = ready.exec(out);
        if (found) {
          clearTimeout(timer);
          resolve(found);
        }
      });
      proc.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${command} in ${ns} exited with ${code}`));
      });
    });
    return { proc, match };
  }

  /** Run `command` inside `ns` to its end and resolve with its stdout; SIGKILL after `timeoutMs`. */
  async run(ns: string, command: string, args: readonly string[], timeoutMs: number): Promise<string> {
    const child = this.spawn(ns, command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    if (code !== 0) throw new Error(`${command} in ${ns} exited with ${code}: ${err}`);
    return out;
  }

  /**
   * A veth from the host namespace into `ns` with `hostIp`/30 on the host end and `nsIp`/30 inside, both
   * up. Returns the two device names.
   */
  linkToHost(ns: string, hostIp: string, nsIp: string): { hostDev: string; nsDev: string } {
    const n = this.#hostDevs.length;
    const hostDev = `tm${this.suffix}h${n}`;
    const nsDev = `tm${this.suffix}n${n}`;
    run('ip', ['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', nsDev, 'netns', ns]);
    this.#hostDevs.push(hostDev);
    run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostDev]);
    this.exec(ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsDev);
    run('ip', ['link', 'set', hostDev, 'up']);
    this.exec(ns, 'ip', 'link', 'set', nsDev, 'up');
    return { hostDev, nsDev };
  }

  /** A token-bucket rate limit (tc tbf) on A's veth: traffic A -> B. Replaces an earlier one. */
  shape(rate: string, burst: string, latency: string): void {
    this.exec(
      this.a,
      'tc',
      'qdisc',
      'replace',
      'dev',
      this.devA,
      'root',
      'tbf',
      'rate',
      rate,
      'burst',
      burst,
      'latency',
      latency,
    );
  }

  /** Remove the rate limit `shape` set. */
  unshape(): void {
    this.exec(this.a, 'tc', 'qdisc', 'del', 'dev', this.devA, 'root');
  }

  /** nftables rules in A dropping what `match` selects on A's veth, both ways (`''`: every packet). */
  drop(match: string): void {
    const rules = `table inet ${NFT_TABLE} {
  chain in { type filter hook input priority 0; policy accept; iifname "${this.devA}" ${match} drop; }
  chain out { type filter hook output priority 0; policy accept; oifname "${this.devA}" ${match} drop; }
}
`;
    run('ip', ['netns', 'exec', this.a, 'nft', '-f', '-'], rules);
  }

  /** Undo `drop` and `shape`, whichever are on. */
  heal(): void {
    try {
      this.exec(this.a, 'nft', 'delete', 'table', 'inet', NFT_TABLE);
    } catch {}
    try {
      this.unshape();
    } catch {}
  }

  /** Delete the host links and both namespaces (and every link in them); returns what could not be deleted. */
  dispose(): string[] {
    const failures: string[] = [];
    // The kernel removes a deleted namespace's links in the background, so a host end (and its address)
    // would outlive the namespace for a while: delete those first, which takes both ends at once.
    for (const dev of this.#hostDevs.splice(0)) {
      try {
        run('ip', ['link', 'del', dev]);
      } catch {}
    }
    const left: string[] = [];
    for (const ns of this.#created.reverse()) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch (error) {
        left.push(ns);
        failures.push(`could not delete netns ${ns}: ${String(error)}`);
      }
    }
    // What could not be deleted stays listed, for the next dispose (the exit hook's, at the latest).
    this.#created.splice(0, this.#created.length, ...left);
    if (!left.length) live.delete(this);
    return failures;
  }
}
