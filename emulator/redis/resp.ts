/**
 * RESP2, the Redis wire protocol, as far as the emulator needs it: requests are arrays of bulk
 * strings (what every client library sends) or inline commands (what telnet sends); replies are
 * simple strings, errors, integers, bulk strings (or null) and arrays.
 */

/** A reply the server sends. */
export type Reply =
  | { kind: 'simple'; value: string }
  | { kind: 'error'; message: string }
  | { kind: 'integer'; value: number }
  | { kind: 'bulk'; value: Buffer | null }
  | { kind: 'array'; items: Reply[] };

export const ok: Reply = { kind: 'simple', value: 'OK' };
export const nullBulk: Reply = { kind: 'bulk', value: null };
export const simple = (value: string): Reply => ({ kind: 'simple', value });
export const error = (message: string): Reply => ({ kind: 'error', message });
export const integer = (value: number): Reply => ({ kind: 'integer', value });
export const bulk = (value: Buffer | string): Reply => ({
  kind: 'bulk',
  value: typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
});
export const array = (items: Reply[]): Reply => ({ kind: 'array', items });

/** Serialises a reply. */
export function encode(reply: Reply): Buffer {
  switch (reply.kind) {
    case 'simple':
      return Buffer.from(`+${reply.value}\r\n`);
    case 'error':
      return Buffer.from(`-${reply.message}\r\n`);
    case 'integer':
      return Buffer.from(`:${reply.value}\r\n`);
    case 'bulk':
      return reply.value === null
        ? Buffer.from('$-1\r\n')
        : Buffer.concat([Buffer.from(`$${reply.value.length}\r\n`), reply.value, Buffer.from('\r\n')]);
    case 'array':
      return Buffer.concat([Buffer.from(`*${reply.items.length}\r\n`), ...reply.items.map(encode)]);
  }
}

/** Thrown for input that is not RESP; the server answers it and closes the connection, as Redis does. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** Largest bulk string accepted (Redis allows 512 MB; the emulator needs far less). */
const MAX_BULK_BYTES = 1024 * 1024;
const MAX_ARGS = 1024;

/**
 * Incremental request parser: feed it chunks, take complete commands out. A command is its
 * arguments as Buffers (the first is the command name).
 */
export class RequestParser {
  #buffer: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
  }

  /** The next complete command, or undefined when more bytes are needed. Throws {@link ProtocolError}. */
  next(): Buffer[] | undefined {
    if (this.#buffer.length === 0) return undefined;
    if (this.#buffer[0] !== 0x2a /* '*' */) return this.#inline();
    const header = this.#line(0);
    if (!header) return undefined;
    const count = Number(header.text.slice(1));
    if (!Number.isInteger(count) || count > MAX_ARGS)
      throw new ProtocolError('Protocol error: invalid multibulk length');
    let offset = header.end;
    const args: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const line = this.#line(offset);
      if (!line) return undefined;
      if (!line.text.startsWith('$'))
        throw new ProtocolError(`Protocol error: expected '$', got '${line.text.charAt(0)}'`);
      const length = Number(line.text.slice(1));
      if (!Number.isInteger(length) || length < 0 || length > MAX_BULK_BYTES)
        throw new ProtocolError('Protocol error: invalid bulk length');
      if (this.#buffer.length < line.end + length + 2) return undefined;
      args.push(Buffer.from(this.#buffer.subarray(line.end, line.end + length)));
      offset = line.end + length + 2;
    }
    this.#buffer = this.#buffer.subarray(offset);
    return count <= 0 ? this.next() : args;
  }

  #inline(): Buffer[] | undefined {
    const line = this.#line(0);
    if (!line) {
      if (this.#buffer.length > 64 * 1024) throw new ProtocolError('Protocol error: too big inline request');
      return undefined;
    }
    this.#buffer = this.#buffer.subarray(line.end);
    const args = line.text
      .split(/\s+/)
      .filter(Boolean)
      .map((a) => Buffer.from(a, 'utf8'));
    return args.length === 0 ? this.next() : args;
  }

  #line(from: number): { text: string; end: number } | undefined {
    const at = this.#buffer.indexOf('\r\n', from);
    if (at < 0) {
      if (this.#buffer.length - from > 64 * 1024)
        throw new ProtocolError('Protocol error: too big inline request');
      return undefined;
    }
    return { text: this.#buffer.subarray(from, at).toString('utf8'), end: at + 2 };
  }
}
