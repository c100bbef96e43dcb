/** Policy rules on the VPC-SC perimeter's ingress and egress: what the deployment needs, nothing wider. */
import type { Body, TfTree, Violation } from './hcl-tree.js';
import { blocks, path, resources, strings, text, where } from './hcl-tree.js';

/** Identities from outside the perimeter the deployment needs to let in, and to which services. */
export const REQUIRED_INGRESS: readonly { label: string; identities: string; services: readonly string[] }[] = [
  // Cloud Build's default pool is outside every perimeter: the functions' build reads the
  // sources, pushes the image and writes its log.
  { label: 'the build identities', identities: 'var.build_identities', services: ['storage.googleapis.com', 'artifactregistry.googleapis.com', 'logging.googleapis.com'] },
  // The audit sinks' writer identities write to the archive bucket and the audit dataset.
  { label: 'the sink writer identities', identities: 'var.sink_writer_identities', services: ['storage.googleapis.com', 'bigquery.googleapis.com'] },
];

/** The only identities allowed to every service and resource (Terraform, the deploy pipeline). */
const WILDCARD_IDENTITIES = 'var.deployer_identities';

const services = (policy: Body): string[] => path(policy, 'ingress_to', 'operations').map((o) => text(o.service_name));
const identities = (policy: Body): string => path(policy, 'ingress_from').map((f) => text(f.identities)).join(' ');

/**
 * Each perimeter config (spec and status) has the ingress rules of {@link REQUIRED_INGRESS},
 * scoped to the project; only deployers get `*`; spec and status carry the same rules.
 */
export function perimeterRules(tree: TfTree): Violation[] {
  const out: Violation[] = [];
  for (const r of resources(tree, 'google_access_context_manager_service_perimeter')) {
    const fail = (mode: string, message: string) => out.push({ rule: 'perimeter-rules', where: `${where(r)} ${mode}`, message });
    const configs = Object.fromEntries(['spec', 'status'].map((mode) => [mode, blocks(r.body, mode)[0]]));
    for (const [mode, config] of Object.entries(configs)) {
      if (!config) continue; // perimeter-covers-services reports a missing config
      const ingress = blocks(config, 'ingress_policies');
      for (const need of REQUIRED_INGRESS) {
        const policy = ingress.find((p) => identities(p).includes(need.identities));
        if (!policy) {
          fail(mode, `no ingress rule for ${need.label} (${need.identities})`);
          continue;
        }
        const missing = need.services.filter((s) => !services(policy).includes(s));
        if (missing.length > 0) fail(mode, `the ingress rule for ${need.label} does not allow ${missing.join(', ')}`);
        const targets = path(policy, 'ingress_to').flatMap((t) => strings(t.resources));
        if (targets.includes('*') || targets.length === 0) fail(mode, `the ingress rule for ${need.label} must name this project, not every resource`);
      }
      for (const policy of ingress) {
        const wide = services(policy).includes('*') || path(policy, 'ingress_to').flatMap((t) => strings(t.resources)).includes('*');
        if (wide && identities(policy) !== `\${${WILDCARD_IDENTITIES}}`) fail(mode, `ingress rule for ${identities(policy) || '(no identities)'} allows every service or resource; only ${WILDCARD_IDENTITIES} may`);
      }
    }
    if (configs.spec && configs.status && JSON.stringify(configs.spec) !== JSON.stringify(configs.status)) {
      fail('spec/status', 'the dry-run spec and the enforced status differ: enforcing would change the rules that were tried');
    }
  }
  return out;
}
