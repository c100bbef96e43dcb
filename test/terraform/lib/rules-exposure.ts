/**
 * Policy rules on the two deployment modes. internal: no load balancer, nothing public, Cloud Run's
 * invoker check never disabled. public: the token function alone behind an external Application
 * Load Balancer with Cloud Armor (size limit, per-IP rate limit, default deny), a managed
 * certificate, HTTP only redirecting, and the invoker check lifted for that one service.
 */
import type { HclValue } from './hcl-eval.js';
import type { Mode } from './hcl-modes.js';
import { MODES, SAMPLE_DOMAIN, deployed, localIn, modeDirs, modeScope, modeVariables, referenced, tryEvaluate } from './hcl-modes.js';
import type { Body, Json, TfResource, TfTree, Violation } from './hcl-tree.js';
import { blocks, locals, path, resources, strings, text, variables, where } from './hcl-tree.js';

/** Resource types of a load balancer and its edge. */
export const LOAD_BALANCER_TYPES =
  /^google_compute_(global_address|global_forwarding_rule|forwarding_rule|region_network_endpoint_group|global_network_endpoint_group|backend_service|region_backend_service|security_policy|url_map|target_https_proxy|target_http_proxy|managed_ssl_certificate|ssl_certificate|ssl_policy)$/;
const IAM_MEMBER = /_iam_(member|binding|policy)$/;
const PUBLIC_PRINCIPAL = /allUsers|allAuthenticatedUsers/;

const members = (r: TfResource): string[] => [...strings(r.body.member), ...strings(r.body.members), ...strings(r.body.policy_data)];

/** The gen2 function of `dir` whose entry point is `token`. */
export function tokenFunction(tree: TfTree, dir: string): TfResource | undefined {
  return resources(tree, 'google_cloudfunctions2_function').find((r) => r.file.dir === dir && text(blocks(r.body, 'build_config')[0]?.entry_point) === 'token');
}

/**
 * The gen2 functions of `dir` that users reach only through IAP (issue 19: the consent pages): the
 * directory's load balancer serves nothing else — every backend service has `iap { enabled = true }`
 * literally, every network endpoint group points at a function of this directory with entry point
 * `consent` — and there is at least one such backend. Empty when any of that does not hold, so
 * the load balancer resources of such a directory are judged by the ordinary rules.
 */
export function iapGatedFunctions(tree: TfTree, dir: string): TfResource[] {
  const here = (type: string) => resources(tree, type).filter((r) => r.file.dir === dir);
  const backends = here('google_compute_backend_service');
  if (backends.length === 0 || !backends.every((b) => blocks(b.body, 'iap').some((i) => i.enabled === true))) return [];
  const consent = here('google_cloudfunctions2_function').filter((f) => text(blocks(f.body, 'build_config')[0]?.entry_point) === 'consent');
  const negs = resources(tree, /_network_endpoint_group$/).filter((r) => r.file.dir === dir);
  const targets = negs.flatMap((n) => [...blocks(n.body, 'cloud_function').map((c) => c.function), ...blocks(n.body, 'cloud_run').map((c) => c.service)].map((v) => referenced(v, 'google_cloudfunctions2_function')));
  if (negs.length === 0 || targets.length === 0 || !targets.every((t) => consent.some((f) => f.name === t))) return [];
  return consent.filter((f) => targets.includes(f.name));
}

/** A value in one mode of `r`'s directory, `undefined` when it cannot be evaluated. */
const valueIn = (tree: TfTree, r: TfResource, mode: Mode, value: Json | undefined): HclValue | undefined =>
  tryEvaluate(value, modeScope(tree, r.file.dir, mode));

const ingressOf = (tree: TfTree, fn: TfResource, mode: Mode): HclValue | undefined => valueIn(tree, fn, mode, blocks(fn.body, 'service_config')[0]?.ingress_settings);

/** The validation conditions of `dir`'s variables that reference every variable in `names`. */
function conditionsReferencing(tree: TfTree, dir: string, names: readonly string[]): string[] {
  return [...variables(tree, dir).values()]
    .flatMap((v) => blocks(v, 'validation').map((b) => text(b.condition)))
    .filter((c) => names.every((n) => new RegExp(`\\bvar\\.${n}\\b`).test(c)));
}

/**
 * Every directory with a mode variable: it defaults to internal, allows internal and public only,
 * a validation refuses public mode without a domain, and every module call to a directory with a
 * mode variable passes this directory's mode and domain on.
 */
export function exposureVariables(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const dir of modeDirs(tree)) {
    const names = modeVariables(tree, dir)!;
    const fail = (message: string) => out.push({ rule: 'exposure-variables', where: `${dir}: var.${names.exposure}`, message });
    const exposure = variables(tree, dir).get(names.exposure)!;
    if (exposure.default !== 'internal') fail(`default ${text(exposure.default) || '(none)'} is not internal`);
    const allowed = blocks(exposure, 'validation').flatMap((v) => [...text(v.condition).matchAll(/"([^"]*)"/g)].map((m) => m[1]));
    if (allowed.sort().join(',') !== 'internal,public') fail(`validation allows ${allowed.join(', ') || 'anything'}; it must allow exactly internal and public`);

    if (!variables(tree, dir).has(names.domain)) fail(`no var.${names.domain} (public mode needs one)`);
    const cases: [Mode, HclValue, boolean][] = [
      ['public', null, false],
      ['public', SAMPLE_DOMAIN, true],
      ['internal', null, true],
    ];
    const judged = conditionsReferencing(tree, dir, [names.exposure, names.domain]).map((condition) =>
      cases.map(([mode, domain]) => tryEvaluate(condition, modeScope(tree, dir, mode, { [names.domain]: domain }))),
    );
    const refusesMissingDomain = judged.some((results) => results.every((r, i) => r === cases[i][2]));
    if (!refusesMissingDomain) fail(`no validation refuses ${names.exposure} = "public" without ${names.domain} (and accepts it with one, and internal without)`);

    for (const file of tree.files.filter((f) => f.dir === dir)) {
      const calls = file.json.module;
      for (const [label, list] of Object.entries(typeof calls === 'object' && calls !== null && !Array.isArray(calls) ? calls : {})) {
        for (const call of Array.isArray(list) ? (list as Body[]) : []) {
          const target = `${dir}/${text(call.source)}`.split('/').reduce<string[]>((acc, part) => (part === '..' ? acc.slice(0, -1) : part === '.' ? acc : [...acc, part]), []).join('/');
          const targetNames = modeVariables(tree, target);
          if (!targetNames) continue;
          for (const [theirs, ours] of [[targetNames.exposure, names.exposure], [targetNames.domain, names.domain]]) {
            if (text(call[theirs]) !== `\${var.${ours}}`) {
              out.push({ rule: 'exposure-variables', where: `${dir}: module.${label}`, message: `${theirs} is not var.${ours}: the mode must be threaded through` });
            }
          }
        }
      }
    }
  }
  return out;
}

/**
 * internal mode: no load balancer (but the IAP-gated one of the consent pages, see
 * {@link iapGatedFunctions}), no public principal, Cloud Run's invoker check never disabled.
 */
export function internalMode(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  const fail = (r: TfResource, message: string) => out.push({ rule: 'internal-mode', where: where(r), message });
  for (const r of deployed(tree, 'internal', LOAD_BALANCER_TYPES)) {
    if (iapGatedFunctions(tree, r.file.dir).length === 0) fail(r, 'load balancer resource exists in internal mode');
  }
  for (const r of deployed(tree, 'internal', IAM_MEMBER)) {
    if (members(r).some((m) => PUBLIC_PRINCIPAL.test(m))) fail(r, 'grants to allUsers / allAuthenticatedUsers in internal mode');
  }
  for (const r of deployed(tree, 'internal')) {
    if (r.body.invoker_iam_disabled === undefined) continue;
    const value = valueIn(tree, r, 'internal', r.body.invoker_iam_disabled);
    if (value !== false) fail(r, `invoker_iam_disabled is ${value === undefined ? text(r.body.invoker_iam_disabled) : JSON.stringify(value)} in internal mode: the invoker check must stay on`);
  }
  return out;
}

const isDeny = (action: HclValue | undefined): boolean => typeof action === 'string' && /^deny\(\d{3}\)$/.test(action);

/** Cloud Armor rules of a policy, with what can be evaluated of them in public mode. */
function armorRules(tree: TfTree, policy: TfResource) {
  return blocks(policy.body, 'rule').map((rule) => ({
    rule,
    priority: valueIn(tree, policy, 'public', rule.priority),
    action: valueIn(tree, policy, 'public', rule.action),
    expression: valueIn(tree, policy, 'public', path(rule, 'match', 'expr')[0]?.expression),
    ranges: valueIn(tree, policy, 'public', path(rule, 'match', 'config')[0]?.src_ip_ranges),
  }));
}

/** The checks of one security policy in public mode. */
function checkArmor(tree: TfTree, policy: TfResource, fail: (where: string, message: string) => void): void {
  const at = where(policy);
  const type = valueIn(tree, policy, 'public', policy.body.type);
  if (policy.body.type !== undefined && type !== 'CLOUD_ARMOR') fail(at, `type ${text(policy.body.type)} is not CLOUD_ARMOR`);
  const rules = armorRules(tree, policy);

  const rate = rules.find((r) => blocks(r.rule, 'rate_limit_options').length > 0);
  if (!rate) return fail(at, 'no rate-limit rule (rate_limit_options)');
  const options = blocks(rate.rule, 'rate_limit_options')[0];
  if (rate.action !== 'throttle' && rate.action !== 'rate_based_ban') fail(at, `the rate-limit rule's action ${JSON.stringify(rate.action ?? text(rate.rule.action))} is not throttle or rate_based_ban`);
  if (valueIn(tree, policy, 'public', options.enforce_on_key) !== 'IP') fail(at, 'the rate limit is not per client IP (enforce_on_key = "IP")');
  if (!isDeny(valueIn(tree, policy, 'public', options.exceed_action))) fail(at, "the rate limit's exceed_action is not a deny");
  const threshold = blocks(options, 'rate_limit_threshold')[0];
  const count = valueIn(tree, policy, 'public', threshold?.count);
  const interval = valueIn(tree, policy, 'public', threshold?.interval_sec);
  if (typeof count !== 'number' || typeof interval !== 'number') fail(at, 'the rate limit has no rate_limit_threshold { count, interval_sec }');
  if (JSON.stringify(rate.ranges) !== '["*"]') fail(at, `the rate-limit rule matches ${JSON.stringify(rate.ranges ?? null)} by default, not every source ["*"]`);
  if (typeof rate.priority !== 'number') return fail(at, 'the rate-limit rule has no evaluable priority');

  const size = rules.find((r) => typeof r.expression === 'string' && /content-length/i.test(r.expression));
  const limit = typeof size?.expression === 'string' ? /^int\(request\.headers\['content-length'\]\) > (\d+)$/.exec(size.expression) : null;
  if (!size || !limit) fail(at, `no request-size rule "int(request.headers['content-length']) > N"`);
  else {
    if (!isDeny(size.action)) fail(at, `the request-size rule's action ${JSON.stringify(size.action ?? null)} is not a deny`);
    if (typeof size.priority !== 'number' || size.priority >= rate.priority) fail(at, 'the request-size rule must come before (lower priority number than) the rate-limit rule, whose conforming requests are allowed');
  }

  for (const r of rules) {
    if (r.action === 'allow' && (typeof r.priority !== 'number' || r.priority < rate.priority)) fail(at, `a rule allows requests before the rate limit (priority ${JSON.stringify(r.priority ?? null)})`);
  }
  const fallback = rules.find((r) => r.priority === 2147483647);
  if (!fallback || !isDeny(fallback.action)) fail(at, 'the default rule (priority 2147483647) must deny: the allowlist relies on it');
}

/**
 * public mode, in each directory with a mode variable and a token function: the function's
 * ingress admits the load balancer; a serverless NEG to that function behind an EXTERNAL_MANAGED
 * backend service with a Cloud Armor policy; a URL map, an HTTPS proxy with a managed certificate
 * for the domain and a forwarding rule on 443; port 80 only redirects; exactly one public grant,
 * run.invoker on the token function; the function accepts https://DOMAIN as audience.
 */
export function publicMode(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  const fail = (whereText: string, message: string) => out.push({ rule: 'public-mode', where: whereText, message });
  for (const dir of modeDirs(tree)) {
    const fn = tokenFunction(tree, dir);
    if (!fn) continue;
    const here = (type: string) => deployed(tree, 'public', type).filter((r) => r.file.dir === dir);
    const named = (type: string, name: string | undefined) => here(type).find((r) => r.name === name);

    const ingress = ingressOf(tree, fn, 'public');
    if (ingress !== 'ALLOW_INTERNAL_AND_GCLB') fail(where(fn), `ingress_settings is ${JSON.stringify(ingress ?? text(blocks(fn.body, 'service_config')[0]?.ingress_settings))} in public mode, not ALLOW_INTERNAL_AND_GCLB`);

    const negs = here('google_compute_region_network_endpoint_group').filter(
      (n) => n.body.network_endpoint_type === 'SERVERLESS' && [...blocks(n.body, 'cloud_function').map((c) => c.function), ...blocks(n.body, 'cloud_run').map((c) => c.service)].some((v) => referenced(v, 'google_cloudfunctions2_function') === fn.name),
    );
    if (negs.length === 0) fail(dir, `no serverless NEG pointing at google_cloudfunctions2_function.${fn.name} in public mode`);

    const backends = here('google_compute_backend_service');
    for (const b of backends) {
      const policy = named('google_compute_security_policy', referenced(b.body.security_policy, 'google_compute_security_policy'));
      if (!policy) fail(where(b), 'no Cloud Armor security_policy attached');
      else checkArmor(tree, policy, fail);
      if (b.body.load_balancing_scheme !== 'EXTERNAL_MANAGED') fail(where(b), `load_balancing_scheme ${text(b.body.load_balancing_scheme) || '(unset)'} is not EXTERNAL_MANAGED`);
    }
    const backend = backends.find((b) => blocks(b.body, 'backend').some((g) => negs.some((n) => referenced(g.group, 'google_compute_region_network_endpoint_group') === n.name)));
    if (!backend) fail(dir, 'no backend service serves the token function\'s NEG in public mode');

    const urlMap = here('google_compute_url_map').find((u) => backend && referenced(u.body.default_service, 'google_compute_backend_service') === backend.name);
    const https = here('google_compute_target_https_proxy').find((p) => urlMap && referenced(p.body.url_map, 'google_compute_url_map') === urlMap.name);
    if (!urlMap || !https) fail(dir, 'no URL map and HTTPS proxy in front of the backend service');
    else {
      const cert = named('google_compute_managed_ssl_certificate', referenced(https.body.ssl_certificates, 'google_compute_managed_ssl_certificate'));
      const domains = cert && valueIn(tree, cert, 'public', blocks(cert.body, 'managed')[0]?.domains);
      if (JSON.stringify(domains) !== JSON.stringify([SAMPLE_DOMAIN])) fail(where(https), `no Google-managed certificate for the domain (got ${JSON.stringify(domains ?? null)})`);
    }
    const rules = here('google_compute_global_forwarding_rule');
    const onPort = (port: string) => rules.filter((r) => valueIn(tree, r, 'public', r.body.port_range) === port);
    if (!https || !onPort('443').some((r) => referenced(r.body.target, 'google_compute_target_https_proxy') === https.name && r.body.load_balancing_scheme === 'EXTERNAL_MANAGED')) {
      fail(dir, 'no EXTERNAL_MANAGED forwarding rule on 443 to the HTTPS proxy');
    }
    const port80 = onPort('80');
    if (port80.length === 0) fail(dir, 'no HTTP forwarding rule redirecting to HTTPS');
    for (const r of port80) {
      const proxy = named('google_compute_target_http_proxy', referenced(r.body.target, 'google_compute_target_http_proxy'));
      const map = proxy && named('google_compute_url_map', referenced(proxy.body.url_map, 'google_compute_url_map'));
      const redirect = map && blocks(map.body, 'default_url_redirect')[0];
      if (!redirect || redirect.https_redirect !== true || map.body.default_service !== undefined) fail(where(r), 'port 80 must only redirect to HTTPS (default_url_redirect { https_redirect = true }, no backend)');
    }
    for (const r of rules.filter((x) => !['80', '443'].includes(String(valueIn(tree, x, 'public', x.body.port_range))))) fail(where(r), `forwarding rule on port ${text(r.body.port_range)}`);

    const publicGrants = deployed(tree, 'public', IAM_MEMBER).filter((r) => r.file.dir === dir && members(r).some((m) => PUBLIC_PRINCIPAL.test(m)));
    const onToken = publicGrants.filter((r) => isPublicInvoker(r, fn));
    if (onToken.length !== 1) fail(dir, `${onToken.length} public invoker grants on the token function in public mode; exactly one (allUsers, roles/run.invoker) lifts the invoker check`);
    for (const r of publicGrants.filter((g) => !onToken.includes(g))) fail(where(r), 'public grant other than allUsers run.invoker on the token function');

    const audience = /\bTVS_AUDIENCE\s*=\s*local\.([A-Za-z0-9_]+)/.exec(text(locals(tree, dir).get('environment')));
    const accepted = audience ? localIn(tree, dir, audience[1], 'public') : undefined;
    if (typeof accepted !== 'string' || !accepted.split(',').includes(`https://${SAMPLE_DOMAIN}`)) {
      fail(where(fn), `TVS_AUDIENCE in public mode is ${JSON.stringify(accepted ?? null)}: it must include https://DOMAIN`);
    }
  }
  return out;
}

/** `r` grants roles/run.invoker to allUsers, alone, on `fn`'s Cloud Run service. */
export function isPublicInvoker(r: TfResource, fn: TfResource): boolean {
  return (
    r.type === 'google_cloud_run_v2_service_iam_member' &&
    r.file.dir === fn.file.dir &&
    text(r.body.role) === 'roles/run.invoker' &&
    JSON.stringify(members(r)) === '["allUsers"]' &&
    referenced(r.body.name, 'google_cloudfunctions2_function') === fn.name
  );
}

/**
 * In both modes, every function but the token function keeps internal-only ingress, and no
 * network endpoint group points at another function — except the consent function behind IAP
 * ({@link iapGatedFunctions}): internal + load balancer ingress, its NEGs feeding IAP backends only.
 */
export function onlyTokenExposed(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const mode of MODES) {
    for (const fn of deployed(tree, mode, 'google_cloudfunctions2_function')) {
      if (tokenFunction(tree, fn.file.dir)?.name === fn.name) continue;
      const ingress = ingressOf(tree, fn, mode);
      if (iapGatedFunctions(tree, fn.file.dir).some((f) => f.name === fn.name) && ingress === 'ALLOW_INTERNAL_AND_GCLB') continue;
      if (ingress !== 'ALLOW_INTERNAL_ONLY') out.push({ rule: 'only-token-exposed', where: where(fn), message: `ingress_settings is ${JSON.stringify(ingress ?? null)} in ${mode} mode; only the token function may be reached through a load balancer` });
    }
    for (const neg of deployed(tree, mode, /_network_endpoint_group$/)) {
      if (iapGatedFunctions(tree, neg.file.dir).length > 0) continue;
      const target = [...blocks(neg.body, 'cloud_function').map((c) => c.function), ...blocks(neg.body, 'cloud_run').map((c) => c.service)].map((v) => referenced(v, 'google_cloudfunctions2_function'));
      const tokens = target.filter((name) => name !== undefined && tokenFunction(tree, neg.file.dir)?.name === name);
      if (tokens.length === 0 || tokens.length !== target.length) out.push({ rule: 'only-token-exposed', where: where(neg), message: `in ${mode} mode this NEG points at something other than the token function` });
    }
  }
  return out.filter((v, i, all) => all.findIndex((w) => w.where === v.where && w.message === v.message) === i);
}
