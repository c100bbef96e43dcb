/**
 * The emulated Redis (RESP2 subset) driven by the real node-redis 5 client, plus raw sockets for
 * the replies a client library hides: Redis's own error texts, AUTH, SET's options, faults.
 */
import { connect } from 'node:net';
import { createClient } from 'redis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator } from '../../../emulator/index.js';
import { createRedisStore } from '../../../shared/minting/shared-tier/redis-store.js';
import { StoreUnavailable } from '../../../shared/minting/shared-tier/store.js';

let emulator: Emulator;

/** Sends raw RESP and reads until `replies` CRLF-terminated top-level lines have arrived (simple replies only). */
async function raw(payload: string, lines = 1): Promise<string> {
  const port = emulator.redis.port;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(payload));
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      if (text.split('\r\n').length - 1 >= lines) {
        socket.destroy();
        resolve(text);
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
  });
}

const command = (...args: string[]) =>
  `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;

beforeAll(async () => {
  emulator = await startEmulator();
});
afterAll(() => emulator?.stop());
beforeEach(() => emulator.faults.reset());

describe('the emulated Redis with node-redis', () => {
  it('accepts the client’s handshake with the AUTH string and serves GET/SET/DEL', async () => {
    const client = createClient({ url: emulator.redis.url, password: emulator.redisPassword });
    client.on('error', () => undefined);
    await client.connect();
    try {
      expect(await client.ping()).toBe('PONG');
      expect(await client.set('k', 'v', { expiration: { type: 'PX', value: 60_000 } })).toBe('OK');
      expect(await client.get('k')).toBe('v');
      expect(
        await client.set('k', 'w', { condition: 'NX', expiration: { type: 'PX', value: 1_000 } }),
      ).toBeNull();
      expect(await client.set('n', 'x', { condition: 'NX', expiration: { type: 'PX', value: 1_000 } })).toBe(
        'OK',
      );
      expect(await client.pTTL('n')).toBeGreaterThan(0);
      expect(await client.del(['k', 'n', 'none'])).toBe(2);
      expect(await client.get('k')).toBeNull();
      // node-redis's handshake: AUTH, then CLIENT SETINFO (both counted by the fault registry).
      expect(emulator.faults.count('redis.AUTH')).toBeGreaterThan(0);
      expect(emulator.faults.count('redis.CLIENT')).toBeGreaterThan(0);
    } finally {
      await client.close();
    }
  });

  it('refuses a wrong AUTH string with WRONGPASS, and the client cannot connect', async () => {
    const client = createClient({
      url: emulator.redis.url,
      password: 'wrong',
      socket: { reconnectStrategy: false },
    });
    client.on('error', () => undefined);
    await expect(client.connect()).rejects.toThrow(
      'WRONGPASS invalid username-password pair or user is disabled.',
    );
  });

  it('stores exactly the bytes written, readable by tests', async () => {
    const client = createClient({ url: emulator.redis.url, password: emulator.redisPassword });
    client.on('error', () => undefined);
    await client.connect();
    await client.set('bytes', 'AbC_-9');
    await client.close();
    expect(emulator.redis.data.get('bytes')?.toString('utf8')).toBe('AbC_-9');
  });
});

describe('the emulated Redis on the wire', () => {
  it.each([
    ['a command before AUTH', command('GET', 'k'), '-NOAUTH Authentication required.\r\n'],
    [
      'a wrong password',
      command('AUTH', 'nope'),
      '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
    ],
    [
      'a wrong user',
      command('AUTH', 'admin', 'x'),
      '-WRONGPASS invalid username-password pair or user is disabled.\r\n',
    ],
    ['HELLO 3 (RESP2 only)', command('HELLO', '3'), '-NOPROTO unsupported protocol version\r\n'],
  ])('answers %s as Redis does', async (_what, payload, reply) => {
    expect(await raw(payload)).toBe(reply);
  });

  it.each([
    ['a wrong arity', ['GET'], "-ERR wrong number of arguments for 'get' command\r\n"],
    ['a SET syntax error', ['SET', 'k', 'v', 'NX', 'XX'], '-ERR syntax error\r\n'],
    ['an invalid expiry', ['SET', 'k', 'v', 'PX', '0'], "-ERR invalid expire time in 'set' command\r\n"],
    [
      'a non-integer expiry',
      ['SET', 'k', 'v', 'EX', 'soon'],
      '-ERR value is not an integer or out of range\r\n',
    ],
    [
      'an unknown command',
      ['FOO', 'a', 'b'],
      "-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
    ],
    ['SELECT of another database', ['SELECT', '3'], '-ERR DB index is out of range\r\n'],
  ])('answers %s after AUTH as Redis does', async (_what, args, reply) => {
    const text = await raw(command('AUTH', emulator.redisPassword!) + command(...args), 2);
    expect(text).toBe(`+OK\r\n${reply}`);
  });

  it('answers HELLO 2 with AUTH as a map of server facts', async () => {
    const text = await raw(command('HELLO', '2', 'AUTH', 'default', emulator.redisPassword!), 3);
    expect(text.startsWith('*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n')).toBe(true);
  });
});

describe('our Redis store against the emulator', () => {
  // Generous bounds: this file shares two cores with the rest of the suite; the slow case below
  // is ten times slower than the operation bound.
  const store = () =>
    createRedisStore({
      url: emulator.redis.url,
      password: () => Promise.resolve(emulator.redisPassword!),
      opTimeoutMs: 300,
      connectTimeoutMs: 5_000,
    });

  it('sets, reads, locks once and releases only its own lock', async () => {
    const s = store();
    try {
      await s.set('e', 'sealed', 60_000);
      expect(await s.get('e')).toBe('sealed');
      expect(await s.setIfAbsent('lock', 'mine', 5_000)).toBe(true);
      expect(await s.setIfAbsent('lock', 'theirs', 5_000)).toBe(false);
      await s.deleteIfEquals('lock', 'theirs');
      expect(await s.get('lock')).toBe('mine');
      await s.deleteIfEquals('lock', 'mine');
      expect(await s.get('lock')).toBeNull();
    } finally {
      await s.close();
    }
  });

  it('fails fast with StoreUnavailable when Redis is down, slow, or refuses the AUTH string', async () => {
    const s = store();
    try {
      await s.get('warm');
      emulator.faults.inject({ endpoint: 'redis.*', latencyMs: 3_000, times: Infinity });
      const started = Date.now();
      await expect(s.get('x')).rejects.toBeInstanceOf(StoreUnavailable);
      expect(Date.now() - started).toBeLessThan(2_500);
      emulator.faults.reset();
      emulator.faults.inject({ endpoint: 'redis.*', reset: true, times: Infinity });
      emulator.redis.dropConnections();
      await expect(s.get('x')).rejects.toBeInstanceOf(StoreUnavailable);
    } finally {
      emulator.faults.reset();
      await s.close();
    }
    // A wrong AUTH string: the connection never opens (node-redis retries it); the reason reaches the log hook.
    const problems: string[] = [];
    const wrong = createRedisStore({
      url: emulator.redis.url,
      password: () => Promise.resolve('wrong-auth-string'),
      opTimeoutMs: 200,
      connectTimeoutMs: 500,
      onConnectionError: (detail) => problems.push(detail),
    });
    await expect(wrong.get('x')).rejects.toBeInstanceOf(StoreUnavailable);
    expect(problems.join(' ')).toContain('WRONGPASS');
    expect(problems.join(' ')).not.toContain('wrong-auth-string');
    await wrong.close();
  });
});
