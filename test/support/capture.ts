/** Captures everything a component logs, to assert on audit entries and on what never appears. */
import { Writable } from 'node:stream';

export interface Capture {
  stream: Writable;
  write: (line: string) => void;
  text(): string;
  /** JSON lines written so far, parsed. */
  entries(): any[];
}

export function createCapture(): Capture {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    stream,
    write: (line) => {
      chunks.push(line);
    },
    text: () => chunks.join(''),
    entries: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l)),
  };
}
