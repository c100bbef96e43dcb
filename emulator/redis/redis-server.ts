/**
 * A Redis (RESP2) server subset for the shared cache tier and its tests: the commands node-redis
 * sends on connect (AUTH, HELLO 2, CLIENT SETINFO/SETNAME, SELECT 0, PING) and the ones the tier
 * uses (GET, SET with NX/XX/EX/PX/KEEPTTL, DEL), plus EXISTS, PTTL, KEYS, FLUSHALL and QUIT, with
 * Redis's own error replies (`-NOAUTH Authentication required.`, `-WRONGPASS invalid
 * username-password pair or user is disabled.`, wrong arity, syntax errors, unknown commands).
 * HELLO 3 answers `-NOPROTO` (this subset speaks RESP2 only).
 *
 * Faults (emulator/faults.ts): `redis.connect` on each new connection and `redis.<COMMAND>`
 * (upper case) on each command; `reset` drops the connection, `latencyMs` delays the answer, a
 * `status` answers `-LOADING ...`. `redis.*` matches them all: one rule takes Redis down or slow.
 * Tests read and alter the stored bytes through {@link RedisEmulator.data}.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import type { FaultRegistry } from '../faults.js';
import { urlHost } from '../http/server.js';
import type { ProtocolError } from './resp.js';
import {
  array,
  bulk,
  encode,
  error,
  integer,
  nullBulk,
  ok,
  RequestParser,
  simple,
  type Reply,
} from './resp.js';

/** The key space: values with an optional absolute expiry (ms), expired lazily on access. */
export class RedisData {
  readonly #entries = new Map<string, { value: Buffer; expiresAtMs?: number }>();
  constructor(private readonly now: () => number = Date.now) {}

  #live(key: string): { value: Buffer; expiresAtMs?: number } | undefined {
    const entry = this.#entries.get(key);
    if (entry?.expiresAtMs !== undefined && entry.expiresAtMs <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  get(key: string): Buffer | undefined {
    return this.#live(key)?.value;
  }

  /** Stores `value`; `expiresAtMs` undefined = no expiry, `'keep'` = keep the current one. */
  set(key: string, value: Buffer, expiresAtMs?: number | 'keep'): void {
    const kept = expiresAtMs === 'keep' ? this.#live(key)?.expiresAtMs : expiresAtMs;
    this.#entries.set(key, { value, ...(kept === undefined ? {} : { expiresAtMs: kept }) });
  }

  has(key: string): boolean {
    return this.#live(key) !== undefined;
  }

  delete(key: string): boolean {
    return this.#live(key) !== undefined && this.#entries.delete(key);
  }

  /** Milliseconds left: -2 for a missing key, -1 for a key without expiry (as PTTL answers). */
  pttl(key: string): number {
    const entry = this.#live(key);
    if (!entry) return -2;
    return entry.expiresAtMs === undefined ? -1 : Math.max(0, entry.expiresAtMs - this.now());
  }

  keys(): string[] {
    return [...this.#entries.keys()].filter((k) => this.#live(k) !== undefined);
  }

  clear(): void {
    this.#entries.clear();
  }
}

export interface RedisEmulatorOptions {
  faults: FaultRegistry;
  host?: string;
  /** 0 (default) = ephemeral. */
  port?: number;
  /** The AUTH string (`requirepass`); undefined = no AUTH required. */
  password?: string;
  now?: () => number;
}

export interface RedisEmulator {
  /** `redis://HOST:PORT` */
  readonly url: string;
  readonly port: number;
  /** The stored bytes, for tests: read what the tier wrote, or tamper with it. */
  readonly data: RedisData;
  /** Changes the AUTH string (existing authenticated connections stay authenticated, as in Redis). */
  setPassword(password: string | undefined): void;
  /** Drops every open connection (as a Memorystore failover or maintenance does). */
  dropConnections(): void;
  stop(): Promise<void>;
}

const WRONGPASS = 'WRONGPASS invalid username-password pair or user is disabled.';
const NOAUTH = 'NOAUTH Authentication required.';
const arity = (name: string) => error(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);

interface Connection {
  authenticated: boolean;
  name?: string;
}

export async function startRedisEmulator(options: RedisEmulatorOptions): Promise<RedisEmulator> {
  const now = options.now ?? Date.now;
  const data = new RedisData(now);
  let password = options.password;
  const sockets = new Set<Socket>();

  const execute = (conn: Connection, args: Buffer[]): Reply | 'quit' => {
    const name = args[0].toString('utf8').toUpperCase();
    const text = (i: number) => args[i].toString('utf8');
    const needsAuth = password !== undefined && !conn.authenticated;
    switch (name) {
      case 'AUTH': {
        if (args.length < 2 || args.length > 3) return arity(name);
        if (password === undefined)
          return error(
            'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
          );
        // Only the default user exists here, as on Memorystore with AUTH.
        const user = args.length === 3 ? text(1) : 'default';
        if (user !== 'default' || text(args.length - 1) !== password) return error(WRONGPASS);
        conn.authenticated = true;
        return ok;
      }
      case 'HELLO': {
        let i = 1;
        if (args.length > 1) {
          const version = Number(text(1));
          if (!Number.isInteger(version))
            return error('ERR Protocol version is not an integer or out of range');
          if (version !== 2) return error('NOPROTO unsupported protocol version');
          i = 2;
        }
        let authed = false;
        for (; i < args.length; i++) {
          const opt = text(i).toUpperCase();
          if (opt === 'AUTH' && i + 2 < args.length) {
            if (password === undefined || text(i + 1) !== 'default' || text(i + 2) !== password)
              return error(WRONGPASS);
            authed = true;
            i += 2;
          } else if (opt === 'SETNAME' && i + 1 < args.length) {
            conn.name = text(++i);
          } else {
            return error(`ERR Syntax error in HELLO option '${text(i)}'`);
          }
        }
        if (authed) conn.authenticated = true;
        if (password !== undefined && !conn.authenticated)
          return error(
            'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
          );
        return array([
          bulk('server'),
          bulk('redis'),
          bulk('version'),
          bulk('7.2.4'),
          bulk('proto'),
          integer(2),
          bulk('id'),
          integer(1),
          bulk('mode'),
          bulk('standalone'),
          bulk('role'),
          bulk('master'),
          bulk('modules'),
          array([]),
        ]);
      }
      case 'QUIT':
        return 'quit';
    }
    if (needsAuth) return error(NOAUTH);
    switch (name) {
      case 'PING':
        if (args.length > 2) return arity(name);
        return args.length === 2 ? bulk(args[1]) : simple('PONG');
      case 'CLIENT': {
        if (args.length < 2) return arity(name);
        const sub = text(1).toUpperCase();
        if (sub === 'SETINFO') {
          if (args.length !== 4) return arity('client|setinfo');
          const attr = text(2).toUpperCase();
          if (attr !== 'LIB-NAME' && attr !== 'LIB-VER') return error(`ERR Unrecognized option '${text(2)}'`);
          return ok;
        }
        if (sub === 'SETNAME') {
          if (args.length !== 3) return arity('client|setname');
          conn.name = text(2);
          return ok;
        }
        if (sub === 'GETNAME') return conn.name === undefined ? nullBulk : bulk(conn.name);
        return error(`ERR unknown subcommand '${text(1)}'. Try CLIENT HELP.`);
      }
      case 'SELECT':
        if (args.length !== 2) return arity(name);
        if (!/^-?\d+$/.test(text(1))) return error('ERR value is not an integer or out of range');
        return text(1) === '0' ? ok : error('ERR DB index is out of range');
      case 'GET':
        if (args.length !== 2) return arity(name);
        return ((value) => (value === undefined ? nullBulk : bulk(value)))(data.get(text(1)));
      case 'SET':
        return set(args);
      case 'DEL': {
        if (args.length < 2) return arity(name);
        let n = 0;
        for (let i = 1; i < args.length; i++) if (data.delete(text(i))) n++;
        return integer(n);
      }
      case 'EXISTS': {
        if (args.length < 2) return arity(name);
        let n = 0;
        for (let i = 1; i < args.length; i++) if (data.has(text(i))) n++;
        return integer(n);
      }
      case 'PTTL':
        if (args.length !== 2) return arity(name);
        return integer(data.pttl(text(1)));
      case 'KEYS': {
        if (args.length !== 2) return arity(name);
        const pattern = globRegExp(text(1));
        return array(
          data
            .keys()
            .filter((k) => pattern.test(k))
            .map((k) => bulk(k)),
        );
      }
      case 'FLUSHALL':
        data.clear();
        return ok;
      default:
        return error(
          `ERR unknown command '${args[0].toString('utf8')}', with args beginning with: ${args
            .slice(1)
            .map((a) => `'${a.toString('utf8')}' `)
            .join('')}`,
        );
    }
  };

  /** SET key value [NX | XX] [EX s | PX ms | KEEPTTL] */
  const set = (args: Buffer[]): Reply => {
    if (args.length < 3) return arity('SET');
    let condition: 'NX' | 'XX' | undefined;
    let expiresAtMs: number | 'keep' | undefined;
    for (let i = 3; i < args.length; i++) {
      const opt = args[i].toString('utf8').toUpperCase();
      if ((opt === 'NX' || opt === 'XX') && condition === undefined) {
        condition = opt;
      } else if ((opt === 'EX' || opt === 'PX') && expiresAtMs === undefined && i + 1 < args.length) {
        const raw = args[++i].toString('utf8');
        if (!/^-?\d+$/.test(raw)) return error('ERR value is not an integer or out of range');
        const amount = Number(raw);
        if (amount <= 0) return error("ERR invalid expire time in 'set' command");
        expiresAtMs = now() + (opt === 'EX' ? amount * 1000 : amount);
      } else if (opt === 'KEEPTTL' && expiresAtMs === undefined) {
        expiresAtMs = 'keep';
      } else {
        return error('ERR syntax error');
      }
    }
    const key = args[1].toString('utf8');
    if (condition === 'NX' && data.has(key)) return nullBulk;
    if (condition === 'XX' && !data.has(key)) return nullBulk;
    data.set(key, Buffer.from(args[2]), expiresAtMs);
    return ok;
  };

  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const conn: Connection = { authenticated: false };
    const parser = new RequestParser();
    // Commands of one connection are answered in order, one at a time (faults may delay them).
    let queue = Promise.resolve();
    const connectFault = options.faults.take('redis.connect');
    if (connectFault?.reset) {
      socket.destroy();
      return;
    }
    socket.on('data', (chunk: Buffer) => {
      parser.push(chunk);
      queue = queue.then(async () => {
        for (;;) {
          if (socket.destroyed) return;
          let args: Buffer[] | undefined;
          try {
            args = parser.next();
          } catch (err) {
            socket.end(encode(error(`ERR ${(err as ProtocolError).message}`)));
            return;
          }
          if (!args) return;
          const fault = options.faults.take(`redis.${args[0].toString('utf8').toUpperCase()}`);
          if (fault?.latencyMs) await delay(fault.latencyMs);
          if (socket.destroyed) return;
          if (fault?.reset) {
            socket.destroy();
            return;
          }
          if (fault?.status !== undefined) {
            socket.write(encode(error('LOADING Redis is loading the dataset in memory')));
            continue;
          }
          const reply = execute(conn, args);
          if (reply === 'quit') {
            socket.end(encode(ok));
            return;
          }
          socket.write(encode(reply));
        }
      });
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  let stopping: Promise<void> | undefined;
  return {
    url: `redis://${urlHost(options.host ?? '127.0.0.1')}:${port}`,
    port,
    data,
    setPassword(value) {
      password = value;
    },
    dropConnections() {
      for (const socket of sockets) socket.destroy();
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return stopping;
    },
  };
}

/** A Redis glob with `*` and `?` (the subset the tests use) as an anchored RegExp. */
function globRegExp(glob: string): RegExp {
  let source = '';
  for (const ch of glob) {
    if (ch === '*') source += '.*';
    else if (ch === '?') source += '.';
    else source += ch.replace(/[.+^${}()|\\\]\[]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}
