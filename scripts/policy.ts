/**
 * Tools for policy authors, with the function's own parse and compile code:
 *
 *   npm run -s policy -- check FILE [--audience URL]...
 *     Parses (JSON or YAML) and compiles FILE; prints every error with its path and exits 1, or a
 *     summary and exits 0. `--audience`: the service's accepted audiences (`TVS_AUDIENCE`), so a
 *     rule that could mint ID tokens for the service itself is refused as at start-up.
 *
 *   npm run -s policy -- explain FILE (--claims CLAIMS.json | --client ID) --request JSON
 *     The decision for a caller (a token's verified claims, or an OAuth client id) and a request
 *     (`{"serviceAccount", "scope": [...], "lifetime": "3600s"}` for an access token,
 *     `{"serviceAccount", "audience"}` for an ID token): allowed by which rule, or the denial
 *     reason, the closest rule and the caller field that differed. Exit 0 allowed, 3 denied.
 *
 * Exit 2: a usage mistake or an unreadable file.
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { acceptedAudiences } from '../functions/token/policy/accepted-audiences.js';
import {
  compilePolicy,
  describeDenial,
  PolicyError,
  type CompiledPolicy,
  type PolicyCaller,
  type PolicyRequest,
} from '../functions/token/policy/compile-policy.js';
import { parsePolicyTextSync } from '../functions/token/policy/parse-policy-yaml.js';

export const USAGE = `usage:
  npm run -s policy -- check FILE [--audience URL]...
  npm run -s policy -- explain FILE (--claims CLAIMS.json | --client ID) --request JSON [--audience URL]...`;

class UsageError extends Error {}

interface Output {
  out: (text: string) => void;
  err: (text: string) => void;
}

function load(file: string, audiences: string[]): CompiledPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const source = `file ${file}`;
  return compilePolicy(
    parsePolicyTextSync(text, source),
    audiences.length > 0 ? { acceptedAudiences: acceptedAudiences(audiences) } : {},
  );
}

function parseArgs(argv: string[]): { command: string; file: string; flags: Map<string, string[]> } {
  const [command, file, ...rest] = argv;
  if (command !== 'check' && command !== 'explain') throw new UsageError('the command is check or explain');
  if (!file || file.startsWith('--')) throw new UsageError(`${command} needs a policy FILE`);
  const flags = new Map<string, string[]>();
  for (let i = 0; i < rest.length; i += 2) {
    const flag = rest[i];
    const value = rest[i + 1];
    if (!['--audience', '--claims', '--client', '--request'].includes(flag))
      throw new UsageError(`unknown option ${JSON.stringify(flag.slice(0, 40))}`);
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    flags.set(flag, [...(flags.get(flag) ?? []), value]);
  }
  return { command, file, flags };
}

function one(flags: Map<string, string[]>, flag: string): string | undefined {
  const values = flags.get(flag);
  if (values && values.length > 1) throw new UsageError(`${flag} is given twice`);
  return values?.[0];
}

function callerOf(flags: Map<string, string[]>): PolicyCaller {
  const claimsFile = one(flags, '--claims');
  const client = one(flags, '--client');
  if ((claimsFile === undefined) === (client === undefined))
    throw new UsageError('explain needs exactly one of --claims FILE and --client ID');
  if (client !== undefined) return { kind: 'client', clientId: client };
  let claims: unknown;
  try {
    claims = JSON.parse(readFileSync(claimsFile!, 'utf8'));
  } catch (error) {
    throw new UsageError(`--claims ${claimsFile}: not a readable JSON file (${(error as Error).message})`);
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims))
    throw new UsageError('--claims must hold a JSON object (the token payload)');
  const c = claims as Record<string, unknown>;
  if (typeof c.iss !== 'string' || typeof c.sub !== 'string')
    throw new UsageError('--claims needs string iss and sub, as a verified token has');
  return {
    kind: 'id_token',
    issuer: c.iss,
    subject: c.sub,
    ...(typeof c.email === 'string' ? { email: c.email } : {}),
    emailVerified: c.email_verified === true,
    claims: c,
  };
}

function requestOf(flags: Map<string, string[]>): PolicyRequest {
  const raw = one(flags, '--request');
  if (raw === undefined) throw new UsageError('explain needs --request JSON');
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new UsageError('--request is not JSON');
  }
  if (typeof r !== 'object' || r === null || typeof r.serviceAccount !== 'string')
    throw new UsageError('--request needs a serviceAccount');
  if (typeof r.audience === 'string') {
    return { kind: 'id_token', serviceAccount: r.serviceAccount, audience: r.audience };
  }
  const scopes = r.scope ?? ['https://www.googleapis.com/auth/cloud-platform'];
  if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string'))
    throw new UsageError('--request scope must be a list of scope URLs');
  const lifetime = r.lifetime ?? '3600s';
  const seconds =
    typeof lifetime === 'number'
      ? lifetime
      : typeof lifetime === 'string'
        ? Number(/^(\d+)s$/.exec(lifetime)?.[1])
        : Number.NaN;
  if (!Number.isInteger(seconds) || seconds < 1)
    throw new UsageError('--request lifetime must be like "3600s"');
  return { kind: 'access_token', serviceAccount: r.serviceAccount, scopes, lifetimeSeconds: seconds };
}

/** Runs the command; returns the exit code. */
export function main(argv: string[], io: Output = defaultOutput): number {
  try {
    const { command, file, flags } = parseArgs(argv);
    const audiences = flags.get('--audience') ?? [];
    let policy: CompiledPolicy;
    try {
      policy = load(file, audiences);
    } catch (error) {
      if (!(error instanceof PolicyError)) throw error;
      io.err(`${error.message}\n`);
      return 1;
    }
    if (command === 'check') {
      io.out(`${file}: valid, ${policy.ruleCount} rule${policy.ruleCount === 1 ? '' : 's'}\n`);
      return 0;
    }
    const caller = callerOf(flags);
    const request = requestOf(flags);
    // As the function does: the break-glass deny list first, then the rules.
    const denied = policy.deny.check(caller, request.serviceAccount);
    if (denied) {
      io.out(
        `${JSON.stringify({ decision: 'denied', reason: denied.reason, denyEntry: denied.entry }, null, 2)}\n`,
      );
      return 3;
    }
    const decision = policy.authorize(caller, request);
    if (decision.allowed) {
      io.out(`${JSON.stringify({ decision: 'allowed', rule: decision.rule }, null, 2)}\n`);
      return 0;
    }
    const detail = describeDenial(decision);
    io.out(
      `${JSON.stringify(
        {
          decision: 'denied',
          reason: decision.reason,
          ...(decision.rule ? { closestRule: decision.rule } : {}),
          ...(decision.differed ? { differed: decision.differed } : {}),
          ...(detail ? { detail } : {}),
        },
        null,
        2,
      )}\n`,
    );
    return 3;
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.err(`policy: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
}

const defaultOutput: Output = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
