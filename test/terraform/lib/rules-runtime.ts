/** Policy rules on the running service: ingress, scheduler auth, secrets, perimeter, audit. */
import type { Body, TfResource, TfTree, Violation } from './hcl-tree.js';
import { blocks, locals, path, resolveStringList, resources, strings, text, variables, where } from './hcl-tree.js';
import type { HclValue } from './hcl-eval.js';
import { MODES, modeScope, modeVariables, tryEvaluate } from './hcl-modes.js';

const INTERNAL_INGRESS = new Set(['ALLOW_INTERNAL_ONLY', 'ALLOW_INTERNAL_AND_GCLB']);

/** The ALLOW_* values a variable's validation lists, and its default. */
function ingressVariable(tree: TfTree, dir: string, name: string): { allowed: string[]; default: string } {
  const variable = variables(tree, dir).get(name) ?? {};
  const allowed = blocks(variable, 'validation').flatMap((v) => [...text(v.condition).matchAll(/"(ALLOW_[A-Z_]+)"/g)].map((m) => m[1]));
  return { allowed, default: text(variable.default) };
}

/**
 * Every value an ingress expression takes: in each deployment mode, for each value the validation
 * of a variable it reaches lists (and that variable's default). `undefined` marks a combination
 * the evaluator cannot judge.
 */
function ingressValues(tree: TfTree, dir: string, expression: string): (HclValue | undefined)[] {
  const defs = locals(tree, dir);
  const reached = new Set<string>();
  const pending = [expression];
  const seen = new Set<string>();
  while (pending.length > 0) {
    const src = pending.pop()!;
    for (const m of src.matchAll(/\bvar\.([A-Za-z0-9_]+)/g)) reached.add(m[1]);
    for (const m of src.matchAll(/\blocal\.([A-Za-z0-9_]+)/g)) {
      if (!seen.has(m[1])) pending.push(text(defs.get(m[1])));
      seen.add(m[1]);
    }
  }
  const mode = modeVariables(tree, dir)?.exposure;
  let combos: Record<string, HclValue>[] = [{}];
  for (const name of [...reached].filter((n) => n !== mode)) {
    const { allowed, default: fallback } = ingressVariable(tree, dir, name);
    const values = [...new Set([...allowed, ...(fallback ? [fallback] : [])])];
    if (values.length > 0) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [name]: v })));
  }
  return MODES.flatMap((m) => combos.map((c) => tryEvaluate(expression, modeScope(tree, dir, m, c))));
}

/**
 * Every function's ingress is internal (or internal + GCLB): literally, via a validated variable,
 * or as an expression whose every value, in every mode and for every allowed variable value, is.
 */
export function functionIngressInternal(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const r of resources(tree, 'google_cloudfunctions2_function')) {
    const value = text(blocks(r.body, 'service_config')[0]?.ingress_settings);
    const ref = /^\$\{var\.([A-Za-z0-9_]+)\}$/.exec(value);
    let ok = INTERNAL_INGRESS.has(value);
    if (ref) {
      const variable = ingressVariable(tree, r.file.dir, ref[1]);
      ok = INTERNAL_INGRESS.has(variable.default) && variable.allowed.length > 0 && variable.allowed.every((a) => INTERNAL_INGRESS.has(a));
    } else if (value.startsWith('${')) {
      ok = ingressValues(tree, r.file.dir, value).every((v) => typeof v === 'string' && INTERNAL_INGRESS.has(v));
    }
    if (!ok) out.push({ rule: 'function-ingress-internal', where: where(r), message: `ingress_settings ${value || '(unset, defaults to ALLOW_ALL)'} is not internal-only` });
  }
  return out;
}

/** Every Cloud Scheduler HTTP job authenticates with an OIDC token (service account + audience). */
export function schedulerUsesOidc(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const r of resources(tree, 'google_cloud_scheduler_job')) {
    for (const target of blocks(r.body, 'http_target')) {
      const oidc = blocks(target, 'oidc_token')[0];
      if (!oidc || text(oidc.service_account_email) === '' || text(oidc.audience) === '') {
        out.push({ rule: 'scheduler-uses-oidc', where: where(r), message: 'http_target without oidc_token { service_account_email, audience }' });
      }
      if (blocks(target, 'oauth_token').length > 0) out.push({ rule: 'scheduler-uses-oidc', where: where(r), message: 'uses an OAuth token instead of OIDC' });
    }
  }
  return out;
}

const MANAGED_LABEL = /"?tvs-managed"?\s*[=:]\s*"true"/;
const POLICY_LABEL = /"?tvs-kind"?\s*[=:]\s*"policy"/;
/** The shared cache's AUTH secret: a copy of Memorystore's AUTH string, which only changes when AUTH is re-enabled. */
const SHARED_CACHE_AUTH_LABEL = /"?tvs-kind"?\s*[=:]\s*"shared-cache-auth"/;
/**
 * The user-consent broker's OAuth client secret: issued by Google in the console when the admin
 * registers (or adds a secret to) the OAuth client; no API rotates it, so no rotation schedule.
 */
const OAUTH_CLIENT_SECRET_LABEL = /"?tvs-kind"?\s*[=:]\s*"oauth-client-secret"/;

/** The publisher grant for the Secret Manager agent on `topicRef`'s topic, if any. */
function publisherGrant(tree: TfTree, secret: TfResource, topicName: string): TfResource | undefined {
  const defs = locals(tree, secret.file.dir);
  const expand = (s: string) => s.replace(/\blocal\.([A-Za-z0-9_]+)/g, (_, n: string) => text(defs.get(n)));
  return resources(tree, 'google_pubsub_topic_iam_member').find(
    (g) =>
      g.file.dir === secret.file.dir &&
      text(g.body.topic).includes(`google_pubsub_topic.${topicName}.`) &&
      text(g.body.role) === 'roles/pubsub.publisher' &&
      expand(text(g.body.member)).includes('gcp-sa-secretmanager.iam.gserviceaccount.com'),
  );
}

/**
 * Managed secrets have rotation, topics, a destroy TTL and the publisher grant; no other secrets
 * but the policy, the shared cache's AUTH secret and the OAuth client secret (which have a destroy TTL).
 */
export function managedSecretsRotate(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  const fail = (r: TfResource, message: string) => out.push({ rule: 'managed-secrets-rotate', where: where(r), message });
  for (const r of resources(tree, /^google_secret_manager(_regional)?_secret$/)) {
    const labels = text(r.body.labels);
    if (text(r.body.version_destroy_ttl) === '') fail(r, 'no version_destroy_ttl');
    if ((POLICY_LABEL.test(labels) || SHARED_CACHE_AUTH_LABEL.test(labels) || OAUTH_CLIENT_SECRET_LABEL.test(labels)) && !MANAGED_LABEL.test(labels)) continue;
    if (!MANAGED_LABEL.test(labels)) {
      fail(
        r,
        'secret is neither managed (tvs-managed=true) nor the policy secret (tvs-kind=policy) nor the shared cache AUTH secret (tvs-kind=shared-cache-auth) nor the OAuth client secret (tvs-kind=oauth-client-secret)',
      );
      continue;
    }
    const rotation = blocks(r.body, 'rotation')[0];
    if (!rotation || text(rotation.rotation_period) === '' || text(rotation.next_rotation_time) === '') fail(r, 'no rotation { rotation_period, next_rotation_time }');
    const topic = /google_pubsub_topic\.([A-Za-z0-9_-]+)\./.exec(blocks(r.body, 'topics').map((t) => text(t.name)).join(' '));
    if (!topic) {
      fail(r, 'no topics { name = google_pubsub_topic.X.id }');
      continue;
    }
    const grant = publisherGrant(tree, r, topic[1]);
    if (!grant) fail(r, `no roles/pubsub.publisher for the Secret Manager agent on google_pubsub_topic.${topic[1]}`);
    else if (!strings(r.body.depends_on).some((d) => d.includes(`google_pubsub_topic_iam_member.${grant.name}`))) {
      fail(r, `must depend_on google_pubsub_topic_iam_member.${grant.name} (Secret Manager checks the grant at creation)`);
    }
  }
  return out;
}

/** Wherever managed secrets are declared, a variable validation enforces grace > 3600s. */
export function graceExceedsTokenLifetime(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  const dirs = new Set(resources(tree, 'google_secret_manager_secret').filter((r) => MANAGED_LABEL.test(text(r.body.labels))).map((r) => r.file.dir));
  for (const dir of dirs) {
    const conditions = [...variables(tree, dir).values()].flatMap((v) => blocks(v, 'validation').map((b) => text(b.condition)));
    if (!conditions.some((c) => /\bgrace\b[^]*>\s*3600\b/.test(c))) {
      out.push({ rule: 'grace-exceeds-token-lifetime', where: dir, message: 'no validation that grace > 3600s (the maximum token lifetime)' });
    }
  }
  return out;
}

export const REQUIRED_RESTRICTED_SERVICES = [
  'secretmanager.googleapis.com',
  'iam.googleapis.com',
  'iamcredentials.googleapis.com',
  'sts.googleapis.com',
  'logging.googleapis.com',
  'cloudfunctions.googleapis.com',
  'run.googleapis.com',
  // Key wrapping (shared cache tier, user grants) and the user grants database.
  'cloudkms.googleapis.com',
  'firestore.googleapis.com',
  // Used by the deployment: sources and the audit archive, the audit dataset, images, builds, API keys.
  'storage.googleapis.com',
  'bigquery.googleapis.com',
  'artifactregistry.googleapis.com',
  'cloudbuild.googleapis.com',
  'apikeys.googleapis.com',
];

/** A perimeter exists, offers a dry-run spec and an enforced status, both restricting the required services. */
export function perimeterCoversServices(tree: TfTree): Violation[] {
  const perimeters = resources(tree, 'google_access_context_manager_service_perimeter');
  if (perimeters.length === 0) return [{ rule: 'perimeter-covers-services', where: '(tree)', message: 'no service perimeter' }];
  const out: Violation[] = [];
  for (const r of perimeters) {
    if (r.body.use_explicit_dry_run_spec === undefined) out.push({ rule: 'perimeter-covers-services', where: where(r), message: 'no use_explicit_dry_run_spec (dry-run option)' });
    for (const mode of ['spec', 'status']) {
      const configs: Body[] = blocks(r.body, mode);
      if (configs.length === 0) out.push({ rule: 'perimeter-covers-services', where: where(r), message: `no ${mode} block` });
      for (const config of configs) {
        const services = new Set(resolveStringList(tree, r.file.dir, config.restricted_services));
        const missing = REQUIRED_RESTRICTED_SERVICES.filter((s) => !services.has(s));
        if (missing.length > 0) out.push({ rule: 'perimeter-covers-services', where: `${where(r)} ${mode}`, message: `does not restrict ${missing.join(', ')}` });
      }
    }
  }
  return out;
}

const AUDIT_SERVICES = ['secretmanager.googleapis.com', 'iam.googleapis.com'];
const LOG_TYPES = ['ADMIN_READ', 'DATA_READ', 'DATA_WRITE'];

/** Data Access logs for Secret Manager and IAM; sinks grant their writer identity; locked bucket; denial alert. */
export function auditLogging(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  const fail = (whereText: string, message: string) => out.push({ rule: 'audit-logging', where: whereText, message });
  const covered = new Set<string>();
  for (const r of resources(tree, 'google_project_iam_audit_config')) {
    const types = new Set(blocks(r.body, 'audit_log_config').map((c) => text(c.log_type)));
    if (!LOG_TYPES.every((t) => types.has(t))) continue;
    const service = text(r.body.service);
    const fromVar = /var\.([A-Za-z0-9_]+)/.exec(text(r.body.for_each));
    const names = service === '${each.value}' && fromVar ? strings(variables(tree, r.file.dir).get(fromVar[1])?.default) : [service];
    names.forEach((n) => covered.add(n));
  }
  for (const s of AUDIT_SERVICES) if (!covered.has(s)) fail('(tree)', `no audit config with ${LOG_TYPES.join('/')} for ${s}`);

  const sinks = resources(tree, 'google_logging_project_sink');
  if (sinks.length === 0) fail('(tree)', 'no log sink');
  const grants = resources(tree, /_iam_member$/);
  for (const sink of sinks) {
    if (sink.body.unique_writer_identity !== true) fail(where(sink), 'unique_writer_identity must be true');
    if (!grants.some((g) => text(g.body.member).includes(`google_logging_project_sink.${sink.name}`) && text(g.body.member).includes('writer_identity'))) {
      fail(where(sink), "the sink's writer_identity is granted nothing on its destination");
    }
    const bucket = /google_storage_bucket\.([A-Za-z0-9_-]+)/.exec(text(sink.body.destination));
    const target = bucket && resources(tree, 'google_storage_bucket').find((b) => b.name === bucket[1] && b.file.dir === sink.file.dir);
    if (target) {
      const retention = blocks(target.body, 'retention_policy')[0];
      if (!retention || retention.is_locked === undefined || retention.is_locked === false) fail(where(target), 'audit bucket without a (lockable) retention policy');
      if (target.body.uniform_bucket_level_access !== true) fail(where(target), 'audit bucket without uniform bucket-level access');
    }
  }

  const metrics = resources(tree, 'google_logging_metric');
  const alerted = resources(tree, 'google_monitoring_alert_policy').some((a) =>
    path(a.body, 'conditions', 'condition_threshold').some((c) => metrics.some((m) => text(c.filter).includes(`google_logging_metric.${m.name}.`))),
  );
  if (!alerted) fail('(tree)', 'no alert policy on a log-based metric (denied/failed authentications)');
  return out;
}
