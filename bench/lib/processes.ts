/**
 * Child processes for the bench: spawned pinned to a core when `taskset` exists, stdout counted
 * (audit entries are produced but not kept), RSS read from `/proc`, stopped by their own pid.
 */
import { execFileSync, spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Cores for the server under test and for the load generator (and upstream). */
export const SERVER_CORE = 0;
export const LOAD_CORE = 1;

let tasksetPath: string | null | undefined;

/** Path of `taskset`, or null when it is missing (then nothing is pinned). */
export function taskset(): string | null {
  if (tasksetPath === undefined) {
    try {
      tasksetPath = execFileSync('sh', ['-c', 'command -v taskset'], { encoding: 'utf8' }).trim() || null;
    } catch {
      tasksetPath = null;
    }
  }
  return tasksetPath;
}

/** Pins an existing process (all its threads) to `core`; no-op without taskset. */
export function pinProcess(pid: number, core: number): boolean {
  const path = taskset();
  if (!path) return false;
  execFileSync(path, ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
  return true;
}

export interface Child {
  process: ChildProcess;
  pid: number;
  /** Lines written to stdout so far (audit entries for the token function). */
  stdoutLines(): number;
  /** Last stderr text, for error reports. */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it exited. */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns `node args...` pinned to `core`; stdout lines are counted, not kept. */
export function spawnNode(
  args: string[],
  options: { core: number; env?: NodeJS.ProcessEnv; ipc?: boolean; cwd?: string },
): Child {
  const path = taskset();
  const [command, argv] = path
    ? [path, ['-c', String(options.core), process.execPath, ...args]]
    : [process.execPath, args];
  const stdio: StdioOptions = options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'];
  // taskset execs node in place, so the pid is node's own (RSS and signals reach the right process).
  const child = spawn(command, argv, { stdio, env: options.env ?? process.env, cwd: options.cwd });
  let lines = 0;
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${command}`);
  const pid = child.pid;
  return {
    process: child,
    pid,
    stdoutLines: () => lines,
    stderrTail: () => stderr,
    async stop(graceMs = 2_000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Resident set size of `pid` in bytes (`VmRSS`), or undefined when it is gone. */
export function rssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

let ticksPerSecond: number | undefined;

/**
 * CPU time (user + system, all threads) `pid` has used so far, in seconds, from `/proc/<pid>/stat`;
 * undefined when it is gone. Unlike wall time, it barely moves when neighbours share the machine.
 */
export function cpuSeconds(pid: number): number | undefined {
  try {
    ticksPerSecond ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state: utime is the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return undefined;
  }
}

/** The kernel's ephemeral port range (where client sockets and port-0 listeners land). */
function ephemeralRange(): [number, number] {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    if (low > 0 && high >= low) return [low, high];
  } catch {
    // Not Linux: fall through.
  }
  return [32768, 60999];
}

function canListen(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    // Wildcard, as functions-framework listens: a loopback-only probe would miss clashes.
    server.listen(port, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => resolve(bound));
    });
  });
}

/**
 * A port the function can listen on (its URL, the token function's audience, must be known before
 * it starts). Picked below the ephemeral range so that the load generator's 1,000 client sockets
 * and other processes' port-0 listeners cannot take it between this probe and the child's listen.
 */
export async function freePort(): Promise<number> {
  const [low] = ephemeralRange();
  const floor = Math.min(20_000, Math.max(1024, low - 10_000));
  for (let attempt = 0; attempt < 50 && low - floor > 100; attempt++) {
    const candidate = floor + Math.floor(Math.random() * (low - floor));
    const bound = await canListen(candidate);
    if (bound !== undefined) return bound;
  }
  const fallback = await canListen(0);
  if (fallback === undefined) throw new Error('no free port');
  return fallback;
}
