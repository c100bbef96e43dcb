/** Structure checks of cloudbuild.yaml: steps, order, pinned images, substitutions, no secrets. */
import { parse } from 'yaml';

interface Step {
  id?: string;
  name?: string;
  entrypoint?: string;
  args?: string[];
  waitFor?: string[];
  secretEnv?: string[];
}

/** The steps the pipeline must run, in this order, and what each must run. */
export const REQUIRED_STEPS: readonly { id: string; runs: RegExp }[] = [
  { id: 'npm-ci', runs: /^npm ci\b/ },
  { id: 'lint', runs: /^npm run lint\b/ },
  { id: 'typecheck', runs: /^npm run typecheck\b/ },
  { id: 'test', runs: /^npm (test|run test)\b/ },
  { id: 'build', runs: /^npm run build\b/ },
  { id: 'package', runs: /^npm run bundle\b/ },
  { id: 'terraform-init', runs: /terraform .*init -input=false/ },
  { id: 'terraform-fmt', runs: /^terraform fmt -check -recursive terraform$/ },
  { id: 'terraform-validate', runs: /^terraform -chdir=\S+ validate$/ },
  { id: 'terraform-plan', runs: /^terraform -chdir=\S+ plan -input=false -out=tvs\.plan .*-var=project_id=\$PROJECT_ID .*-var=region=\$\{_REGION\}/ },
  { id: 'terraform-apply', runs: /terraform -chdir=\S+ apply -input=false tvs\.plan/ },
];

/** Node.js major of the `nodejs24` runtime the functions deploy on: the pipeline builds and tests on it. */
export const DEPLOY_NODE_MAJOR = 24;

const SECRET_PATTERNS: readonly [string, RegExp][] = [
  ['a PEM private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['a service-account key field', /"private_key(_id)?"\s*:/],
  ['a Google API key', /AIza[0-9A-Za-z_-]{35}/],
  ['a Google OAuth access token', /\bya29\.[0-9A-Za-z_-]{20,}/],
  ['a GitHub token', /\bgh[pousr]_[0-9A-Za-z]{30,}/],
  ['a password or token assignment', /(password|passwd|secret|token|api_?key)\s*[=:]\s*['"]?[^\s'"$]{8,}/i],
];

/** How a step's command reads on a shell: entrypoint (default the image's tool) plus args. */
function command(step: Step): string {
  const tool = step.entrypoint ?? (step.name?.startsWith('hashicorp/terraform') ? 'terraform' : step.name?.split(/[:@]/)[0] ?? '');
  const args = step.args ?? [];
  if ((tool === 'bash' || tool === 'sh') && args.length >= 2 && args[0].startsWith('-')) return args.slice(1).join(' ').trim();
  return [tool, ...args].join(' ');
}

/** Every problem found in a cloudbuild.yaml text; empty when it is fine. */
export function checkCloudbuild(source: string): string[] {
  const problems: string[] = [];
  const doc = parse(source) as { steps?: Step[]; substitutions?: Record<string, string>; availableSecrets?: unknown; secrets?: unknown };
  const steps = doc.steps ?? [];

  const ids = steps.map((s) => s.id ?? '(no id)');
  let previous: { id: string; at: number } | undefined;
  for (const required of REQUIRED_STEPS) {
    const at = ids.indexOf(required.id);
    if (at === -1) {
      problems.push(`missing step ${required.id}`);
      continue;
    }
    if (previous && at < previous.at) problems.push(`step ${required.id} runs before ${previous.id}`);
    previous = { id: required.id, at };
    if (!required.runs.test(command(steps[at]).replace(/\s+/g, ' '))) problems.push(`step ${required.id} does not run ${required.runs}`);
  }
  for (const step of steps) {
    if (step.waitFor) problems.push(`step ${step.id} uses waitFor: steps must run strictly in order`);
    const image = step.name ?? '';
    const pinned = /@sha256:[0-9a-f]{64}$/.test(image) || /:[^:/]*\d+\.\d+(\.\d+)?[^:/]*$/.test(image);
    if (!pinned || /:(latest|stable|lts)$/.test(image)) problems.push(`step ${step.id} image ${image || '(none)'} is not pinned to a version`);
    const node = /^node:(\d+)[.-]/.exec(image);
    if (node && Number(node[1]) !== DEPLOY_NODE_MAJOR) {
      problems.push(`step ${step.id} image ${image} is Node ${node[1]}, not Node ${DEPLOY_NODE_MAJOR} (the nodejs${DEPLOY_NODE_MAJOR} runtime the functions deploy on)`);
    }
    if (step.secretEnv) problems.push(`step ${step.id} uses secretEnv: the pipeline needs no secret`);
  }

  if (doc.availableSecrets !== undefined || doc.secrets !== undefined) problems.push('declares secrets: the pipeline needs no secret');
  for (const [what, pattern] of SECRET_PATTERNS) if (pattern.test(source)) problems.push(`contains ${what}`);

  const declared = new Set(Object.keys(doc.substitutions ?? {}));
  const body = source.replace(/\$\$/g, '');
  const used = new Set([...body.matchAll(/\$\{(_[A-Z0-9_]+)\}|\$(_[A-Z0-9_]+)/g)].map((m) => m[1] ?? m[2]));
  for (const name of used) if (!declared.has(name)) problems.push(`substitution ${name} is used but not declared`);
  for (const name of declared) {
    if (!name.startsWith('_')) problems.push(`substitution ${name} must start with _`);
    else if (!used.has(name)) problems.push(`substitution ${name} is declared but never used`);
  }
  for (const required of ['_REGION']) if (!declared.has(required)) problems.push(`no ${required} substitution`);
  if (!/\$PROJECT_ID\b|\$\{PROJECT_ID\}/.test(body)) problems.push('does not take the project from $PROJECT_ID');
  return problems;
}
