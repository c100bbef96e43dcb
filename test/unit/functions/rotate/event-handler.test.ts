import { describe, expect, it } from 'vitest';
import { parseRotateNotice, shouldRedeliver } from '../../../../functions/rotate/event-handler.js';

const message = (attributes: Record<string, string>) => ({
  message: { attributes, messageId: '7', publishTime: '2026-01-01T00:00:05Z', data: '' },
  subscription: 's',
});

describe('parseRotateNotice', () => {
  it('acts on SECRET_ROTATE with its secret and timestamp', () => {
    expect(
      parseRotateNotice(
        message({
          eventType: 'SECRET_ROTATE',
          secretId: 'projects/p/secrets/s',
          timestamp: '2026-01-01T00:00:00Z',
        }),
        'p',
      ),
    ).toEqual({
      kind: 'rotate',
      secretName: 'projects/p/secrets/s',
      timeMs: Date.parse('2026-01-01T00:00:00Z'),
      messageId: '7',
    });
  });

  it.each(['projects/evil-project/secrets/s', 'projects/999999999999/secrets/s'])(
    'reads %s from the configured project only',
    (announced) => {
      expect(
        parseRotateNotice(
          message({ eventType: 'SECRET_ROTATE', secretId: announced, timestamp: '2026-01-01T00:00:00Z' }),
          'tvs-prod',
        ),
      ).toMatchObject({
        kind: 'rotate',
        secretName: 'projects/tvs-prod/secrets/s',
      });
    },
  );

  it('falls back to the publish time', () => {
    expect(
      parseRotateNotice(message({ eventType: 'SECRET_ROTATE', secretId: 'projects/p/secrets/s' }), 'p'),
    ).toMatchObject({ timeMs: Date.parse('2026-01-01T00:00:05Z') });
  });

  it.each([
    [message({ eventType: 'TOPIC_CONFIGURED' }), 'TOPIC_CONFIGURED'],
    [message({ eventType: 'SECRET_VERSION_ADD', secretId: 'projects/p/secrets/s' }), 'SECRET_VERSION_ADD'],
    [message({}), '(none)'],
    [message({ eventType: 'SECRET_ROTATE', secretId: 'projects/p/secrets/../x' }), 'secretId'],
    [{ nothing: true }, 'not a Pub/Sub message'],
  ])('ignores %j', (data, reason) => {
    expect(parseRotateNotice(data, 'p')).toMatchObject({
      kind: 'ignore',
      reason: expect.stringContaining(reason),
    });
  });
});

describe('shouldRedeliver', () => {
  it.each([
    ['UNAVAILABLE', 'SECRET_MANAGER_UNAVAILABLE', true],
    ['FAILED_PRECONDITION', 'KEY_CAP', false],
    ['FAILED_PRECONDITION', 'MISCONFIGURED', false],
    ['PERMISSION_DENIED', 'IAM_PERMISSION_DENIED', false],
  ])('%s %s → %s', (code, reason, expected) => {
    expect(
      shouldRedeliver({ secret: 's', outcome: 'failed', actions: [], error: { code, reason, message: '' } }),
    ).toBe(expected);
  });

  it('never redelivers a rollback or a busy secret', () => {
    expect(
      shouldRedeliver({
        secret: 's',
        outcome: 'rolled-back',
        actions: [],
        error: { code: 'FAILED_PRECONDITION', reason: 'VERIFY_FAILED', message: '' },
      }),
    ).toBe(false);
    expect(shouldRedeliver({ secret: 's', outcome: 'busy', actions: [] })).toBe(false);
  });
});
