/**
 * `POST /v1/policy:notify`: a Pub/Sub push of the policy secret's Secret Manager notifications.
 * The instance that receives it re-reads the policy at once (`PolicyProvider.refresh`); every
 * other instance within the policy TTL (a push reaches one instance, see docs/policy.md).
 *
 * Trust: only a Google-signed ID token (audience: this service) of the one configured notifier
 * service account is accepted, and the message is only a hint: nothing in it is used but the
 * event type and the secret's short id, which decide whether to re-read. The policy itself is
 * always read from the configured secret version, so whoever can publish to the topic can at
 * most cause re-reads (coalesced: one running, one queued).
 */
import type { ServerResponse } from 'node:http';
import * as z from '../../shared/zod.js';
import type { AuditEntry } from '../../shared/audit-log.js';
import { GOOGLE_DEFAULTS } from '../../shared/config.js';
import { PermissionDeniedError, UnavailableError } from '../../shared/errors.js';
import { describe } from '../../shared/google-error.js';
import type { CallerIdentity } from './auth/types.js';
import { auditCaller, writeAudit } from './decision-audit.js';
import { callerAuthorization } from './http/credential-headers.js';
import { readBody, type FunctionRequest, type RequestContext } from './http/request-context.js';
import { parseJsonBody } from './http/request-schemas.js';
import { sendGoogleError } from './http/respond.js';
import { PolicyError } from './policy/compile-policy.js';
import type { TokenServices } from './token-services.js';

/** Who may notify, and which secret the policy is read from. */
export interface PolicyNotifications {
  /** The push subscription's OIDC service account (lower case). */
  notifierServiceAccount: string;
  /** The policy secret's short id (`S` of `projects/P/secrets/S/versions/V`); undefined for a policy file. */
  policySecretId: string | undefined;
}

/**
 * Events that can change what `…/versions/V` resolves to or whether it can be read: a new version
 * (`latest`), an alias moved (`SECRET_UPDATE`), a version enabled, disabled or destroyed.
 */
const RELOADING_EVENTS = new Set([
  'SECRET_VERSION_ADD',
  'SECRET_VERSION_ENABLE',
  'SECRET_VERSION_DISABLE',
  'SECRET_VERSION_DESTROY',
  'SECRET_UPDATE',
]);

/** Pub/Sub's push envelope; only the attributes are read. */
const pushEnvelope = z.object({
  message: z.object({
    attributes: z._default(z.record(z.string(), z.string().check(z.maxLength(1024))), {}),
    messageId: z.optional(z.string().check(z.maxLength(200))),
  }),
  subscription: z.optional(z.string().check(z.maxLength(1024))),
});

/** Why a message does not ask for a re-read, or undefined when it does. */
export function ignoredBecause(
  attributes: Record<string, string>,
  policySecretId: string | undefined,
): string | undefined {
  if (policySecretId === undefined) return 'the policy is read from a file';
  const eventType = attributes.eventType;
  if (eventType === undefined || !RELOADING_EVENTS.has(eventType))
    return `event type ${eventType === undefined ? '(none)' : eventType.slice(0, 64)}`;
  // Notices name the secret's project by number, the configuration usually by id: compare the
  // secret's short id only. Another project's look-alike secret can at most cause a re-read.
  const announced = /^projects\/[^/]+\/secrets\/([A-Za-z0-9_-]{1,255})$/.exec(attributes.secretId ?? '');
  if (!announced || announced[1] !== policySecretId) return 'another secret';
  return undefined;
}

/** Handles one push. 204 when handled (re-read, or ignored); 503 asks Pub/Sub to deliver again. */
export async function handlePolicyNotification(
  deps: TokenServices,
  req: FunctionRequest,
  res: ServerResponse,
  ctx: RequestContext,
): Promise<void> {
  const now = deps.now ?? Date.now;
  let caller: CallerIdentity | undefined;
  const audit = (entry: Omit<AuditEntry, 'requestId' | 'latencyMs' | 'action' | 'caller'>) =>
    writeAudit(deps.audit, ctx, now(), { ...entry, action: 'policy.notify', caller: auditCaller(caller) });
  try {
    caller = await deps.authenticate(callerAuthorization(req));
    const notifications = deps.policyNotifications;
    if (
      notifications === undefined ||
      caller.kind !== 'id_token' ||
      caller.issuer !== GOOGLE_DEFAULTS.googleIssuer ||
      caller.emailVerified !== true ||
      caller.email?.toLowerCase() !== notifications.notifierServiceAccount
    ) {
      throw new PermissionDeniedError('The caller may not send policy notifications.', {
        reason: 'POLICY_NOTIFIER_NOT_ALLOWED',
        detail:
          notifications === undefined ? 'TVS_POLICY_NOTIFIER is not set' : 'not the configured notifier',
      });
    }
    const { message } = parseJsonBody(readBody(req, 'application/json'), pushEnvelope);
    const ignored = ignoredBecause(message.attributes, notifications.policySecretId);
    if (ignored !== undefined) {
      res.writeHead(204).end();
      audit({ decision: 'done', reason: 'NOTIFICATION_IGNORED', httpStatus: 204, detail: ignored });
      return;
    }
    try {
      const policy = await deps.policy.refresh();
      res.writeHead(204).end();
      audit({
        decision: 'done',
        reason: 'POLICY_RELOADED',
        httpStatus: 204,
        detail: `${message.attributes.eventType}; ${policy.ruleCount} rules, ${policy.deny.size} deny entries`,
      });
    } catch (err) {
      // A bad policy will not get better by redelivery: acknowledge (the reload failure is logged
      // by the provider, the last good policy stays). A failed read is worth another delivery.
      if (!(err instanceof PolicyError))
        throw new UnavailableError('The policy could not be re-read; deliver again later.', {
          reason: 'POLICY_RELOAD_FAILED',
          detail: describe(err),
          cause: err,
        });
      res.writeHead(204).end();
      audit({
        decision: 'done',
        reason: 'POLICY_REJECTED',
        httpStatus: 204,
        detail: err.message.slice(0, 500),
      });
    }
  } catch (err) {
    const sent = sendGoogleError(res, err);
    audit({
      decision: sent.httpStatus >= 500 ? 'error' : 'denied',
      reason: sent.error.reason,
      httpStatus: sent.httpStatus,
      detail: sent.error.detail ?? (sent.error.cause ? describe(sent.error.cause) : undefined),
    });
  }
}
