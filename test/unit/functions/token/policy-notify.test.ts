/**
 * `POST /v1/policy:notify` with fakes of our own interfaces: who may notify, which messages cause
 * a re-read, and what Pub/Sub is answered (204 handled, 503 deliver again).
 */
import type { ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../../../shared/audit-log.js';
import { UpstreamUnavailable } from '../../../../shared/errors.js';
import type { CallerIdentity } from '../../../../functions/token/auth/types.js';
import type { FunctionRequest } from '../../../../functions/token/http/request-context.js';
import { acceptedAudiences } from '../../../../functions/token/policy/accepted-audiences.js';
import { compilePolicy, PolicyError } from '../../../../functions/token/policy/compile-policy.js';
import { handlePolicyNotification, ignoredBecause } from '../../../../functions/token/policy-notify.js';
import type { TokenServices } from '../../../../functions/token/token-services.js';

const NOTIFIER = 'policy-notifier@p.iam.gserviceaccount.com';
const GOOGLE = 'https://accounts.google.com';
const notifier: CallerIdentity = {
  kind: 'id_token',
  issuer: GOOGLE,
  subject: '1',
  email: NOTIFIER,
  emailVerified: true,
  expiresAtMs: 0,
  claims: {},
};
const POLICY = compilePolicy({ version: 1, serviceAccounts: {}, rules: [] });

function harness(options: {
  caller?: CallerIdentity;
  secretId?: string | undefined;
  configured?: boolean;
  refresh?: () => Promise<never> | Promise<typeof POLICY>;
}) {
  const audit: AuditEntry[] = [];
  let refreshes = 0;
  const services: TokenServices = {
    authenticate: () => Promise.resolve(options.caller ?? notifier),
    verifySubjectToken: () => Promise.reject(new Error('unused')),
    policy: {
      current: () => POLICY,
      currentForRequest: () => Promise.resolve(POLICY),
      currentIfFresh: () => POLICY,
      reload: () => Promise.resolve(POLICY),
      refresh: () => {
        refreshes += 1;
        return options.refresh ? options.refresh() : Promise.resolve(POLICY);
      },
    },
    acceptedAudiences: acceptedAudiences([]),
    clientAuth: { authenticate: () => Promise.reject(new Error('unused')) },
    minter: {} as TokenServices['minter'],
    audit: { write: (entry) => void audit.push(entry), flush: () => Promise.resolve() },
    ...(options.configured === false
      ? {}
      : {
          policyNotifications: {
            notifierServiceAccount: NOTIFIER,
            policySecretId: 'secretId' in options ? options.secretId : 'tvs-policy',
          },
        }),
  };
  const send = async (body: unknown, contentType = 'application/json') => {
    const raw = Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    const req = {
      headers: {
        'content-type': contentType,
        authorization: 'Bearer x',
        'content-length': String(raw.length),
      },
      rawBody: raw,
      socket: {},
    } as unknown as FunctionRequest;
    const reply = { status: 0, body: '' };
    const res = {
      writeHead(status: number) {
        reply.status = status;
        return res;
      },
      end(text?: string) {
        reply.body = text ?? '';
        return res;
      },
    } as unknown as ServerResponse;
    await handlePolicyNotification(services, req, res, { requestId: 'r', startedAtMs: 0 });
    return { status: reply.status, json: reply.body ? JSON.parse(reply.body) : undefined };
  };
  return { send, audit, refreshes: () => refreshes };
}

const push = (attributes: Record<string, string>) => ({
  message: { attributes, data: 'e30=', messageId: '7', publishTime: '2026-12-06T00:00:00Z' },
  subscription: 'projects/p/subscriptions/tvs-policy-changes',
});
const added = push({ eventType: 'SECRET_VERSION_ADD', secretId: 'projects/123456/secrets/tvs-policy' });

describe('POST /v1/policy:notify', () => {
  it('re-reads the policy for a new version of the policy secret and answers 204, audited', async () => {
    const h = harness({});
    expect((await h.send(added)).status).toBe(204);
    expect(h.refreshes()).toBe(1);
    expect(h.audit).toEqual([
      expect.objectContaining({
        action: 'policy.notify',
        decision: 'done',
        reason: 'POLICY_RELOADED',
        httpStatus: 204,
        caller: expect.objectContaining({ email: NOTIFIER }),
      }),
    ]);
  });

  it.each(['SECRET_VERSION_ENABLE', 'SECRET_VERSION_DISABLE', 'SECRET_VERSION_DESTROY', 'SECRET_UPDATE'])(
    're-reads on %s (what versions/V resolves to may have changed)',
    async (eventType) => {
      const h = harness({});
      await h.send(push({ eventType, secretId: 'projects/p/secrets/tvs-policy' }));
      expect(h.refreshes()).toBe(1);
    },
  );

  it.each([
    ['another secret', { eventType: 'SECRET_VERSION_ADD', secretId: 'projects/p/secrets/gemini-key' }],
    ['a look-alike id', { eventType: 'SECRET_VERSION_ADD', secretId: 'projects/p/secrets/tvs-policy-2' }],
    ['a malformed secretId', { eventType: 'SECRET_VERSION_ADD', secretId: 'tvs-policy' }],
    ['no secretId', { eventType: 'SECRET_VERSION_ADD' }],
    ['SECRET_ROTATE', { eventType: 'SECRET_ROTATE', secretId: 'projects/p/secrets/tvs-policy' }],
    ['TOPIC_CONFIGURED', { eventType: 'TOPIC_CONFIGURED' }],
    ['no event type', {}],
  ])('acknowledges %s with 204 and re-reads nothing', async (_name, attributes) => {
    const h = harness({});
    expect((await h.send(push(attributes as Record<string, string>))).status).toBe(204);
    expect(h.refreshes()).toBe(0);
    expect(h.audit).toEqual([expect.objectContaining({ decision: 'done', reason: 'NOTIFICATION_IGNORED' })]);
  });

  it('ignores every notification when the policy is a file', async () => {
    const h = harness({ secretId: undefined });
    expect((await h.send(added)).status).toBe(204);
    expect(h.refreshes()).toBe(0);
    expect(h.audit[0].detail).toBe('the policy is read from a file');
  });

  it.each([
    ['another service account', { ...notifier, email: 'ci@p.iam.gserviceaccount.com' }],
    ['an unverified email', { ...notifier, emailVerified: false }],
    ['another issuer', { ...notifier, issuer: 'https://token.actions.githubusercontent.com' }],
    ['a Google access token', { ...notifier, kind: 'google_access_token' as const }],
  ])('refuses %s with 403 POLICY_NOTIFIER_NOT_ALLOWED, re-reading nothing', async (_name, caller) => {
    const h = harness({ caller });
    const reply = await h.send(added);
    expect(reply.status).toBe(403);
    expect(reply.json.error.details[0].reason).toBe('POLICY_NOTIFIER_NOT_ALLOWED');
    expect(h.refreshes()).toBe(0);
    expect(h.audit).toEqual([
      expect.objectContaining({ decision: 'denied', reason: 'POLICY_NOTIFIER_NOT_ALLOWED' }),
    ]);
  });

  it('refuses everyone when no notifier is configured', async () => {
    const h = harness({ configured: false });
    expect((await h.send(added)).status).toBe(403);
    expect(h.audit[0].detail).toBe('TVS_POLICY_NOTIFIER is not set');
  });

  it.each([
    ['not JSON', '{"message":', 'application/json', 400],
    ['no message', { subscription: 's' }, 'application/json', 400],
    ['attributes not strings', { message: { attributes: { eventType: 7 } } }, 'application/json', 400],
    ['a form body', 'a=b', 'application/x-www-form-urlencoded', 415],
  ])('refuses a malformed push (%s) without re-reading', async (_name, body, contentType, status) => {
    const h = harness({});
    expect((await h.send(body, contentType)).status).toBe(status);
    expect(h.refreshes()).toBe(0);
  });

  it('acknowledges a policy that does not compile (redelivery would not help), audited POLICY_REJECTED', async () => {
    const h = harness({
      refresh: () => Promise.reject(new PolicyError('Invalid policy from secret s:\n  rules: x')),
    });
    expect((await h.send(added)).status).toBe(204);
    expect(h.audit).toEqual([expect.objectContaining({ decision: 'done', reason: 'POLICY_REJECTED' })]);
  });

  it('answers 503 when the secret cannot be read, so Pub/Sub delivers again', async () => {
    const h = harness({
      refresh: () =>
        Promise.reject(new UpstreamUnavailable('Secret Manager unavailable', { reason: 'UPSTREAM' })),
    });
    const reply = await h.send(added);
    expect(reply.status).toBe(503);
    expect(reply.json.error.details[0].reason).toBe('POLICY_RELOAD_FAILED');
    expect(h.audit).toEqual([expect.objectContaining({ decision: 'error', reason: 'POLICY_RELOAD_FAILED' })]);
  });
});

describe('ignoredBecause', () => {
  it('compares only the short secret id (notices name the project by number)', () => {
    expect(
      ignoredBecause({ eventType: 'SECRET_VERSION_ADD', secretId: 'projects/987/secrets/pol' }, 'pol'),
    ).toBeUndefined();
    expect(
      ignoredBecause({ eventType: 'SECRET_VERSION_ADD', secretId: 'projects/987/secrets/pol' }, 'pol2'),
    ).toBe('another secret');
  });

  it('bounds an echoed event type', () => {
    expect(ignoredBecause({ eventType: 'X'.repeat(500) }, 'pol')).toBe(`event type ${'X'.repeat(64)}`);
  });
});
