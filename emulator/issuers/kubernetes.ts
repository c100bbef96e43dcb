import { randomUUID } from 'node:crypto';
import { z } from 'zod';

/**
 * A pod's projected service-account token volume (`serviceAccountToken: {audience,
 * expirationSeconds}`), as the kubelet requests it from the API server's TokenRequest API.
 */
export const KubernetesProjectedToken = z.strictObject({
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  serviceAccount: z.string().regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/),
  serviceAccountUid: z.uuid().optional(),
  pod: z.string().min(1).default('deployer-7d9f8b6c5-x2x7k'),
  podUid: z.uuid().optional(),
  node: z.string().min(1).default('node-1'),
  nodeUid: z.uuid().optional(),
  /** `serviceAccountToken.audience`; the API server puts it in a one-element array. */
  audience: z.string().min(1),
  /** `serviceAccountToken.expirationSeconds`: at least 600 (the API server's minimum), default 3600. */
  expirationSeconds: z.number().int().min(600).max(4_294_967_296).default(3600),
});
export type KubernetesProjectedToken = z.input<typeof KubernetesProjectedToken>;

export const KUBERNETES_CLAIMS_SUPPORTED = [
  'sub',
  'iss',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'kubernetes.io',
] as const;

/** The claims (minus `iss`/`jti`/`iat`/`nbf`/`exp`) and lifetime of a projected token for `input`. */
export function kubernetesClaims(input: KubernetesProjectedToken): {
  claims: Record<string, unknown>;
  lifetimeSeconds: number;
} {
  const t = KubernetesProjectedToken.parse(input);
  return {
    lifetimeSeconds: t.expirationSeconds,
    claims: {
      sub: `system:serviceaccount:${t.namespace}:${t.serviceAccount}`,
      aud: [t.audience],
      'kubernetes.io': {
        namespace: t.namespace,
        node: { name: t.node, uid: t.nodeUid ?? randomUUID() },
        pod: { name: t.pod, uid: t.podUid ?? randomUUID() },
        serviceaccount: { name: t.serviceAccount, uid: t.serviceAccountUid ?? randomUUID() },
      },
    },
  };
}
