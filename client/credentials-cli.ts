#!/usr/bin/env node
/**
 * `npm run -s credentials -- --service-url URL --service-account EMAIL --source SOURCE [...]`
 * (in the client package: `npx tvs-credentials ...`): writes an `external_account` credentials file
 * for `GOOGLE_APPLICATION_CREDENTIALS`. See {@link externalAccountCredentials} and docs/adc.md.
 */
import { chmodSync, realpathSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  CredentialsOptionError,
  externalAccountCredentials,
  type ExternalAccountOptions,
  type SubjectTokenSourceName,
} from './external-account.js';

export const USAGE = `usage: tvs-credentials --service-url URL --service-account EMAIL --source SOURCE [options]

  --service-url URL        the token service (https; http only on localhost); or TVS_SERVICE_URL
  --service-account EMAIL  the service account to get tokens for
  --source SOURCE          where the workload's OIDC token comes from:
                             github       GitHub Actions (run in the job: reads ACTIONS_ID_TOKEN_REQUEST_*)
                             gitlab       a file the job writes from its id_tokens variable
                             k8s-file     a projected service-account token file
                             file:PATH    any file holding the token
                             url:URL      any URL answering the token
  --token-file PATH        gitlab / k8s-file: the token file
  --token-audience AUD     github: the audience to ask for (default: the service URL)
  --header NAME=VALUE      url: a request header (repeatable)
  --format text|json       file: / url: the token is the whole body (text) or a JSON field
  --field NAME             with --format json: the field (default: value)
  --out FILE               write the file (mode 0600) instead of printing it`;

const FLAGS = new Set([
  '--service-url',
  '--service-account',
  '--source',
  '--token-file',
  '--token-audience',
  '--header',
  '--format',
  '--field',
  '--out',
]);

/** Parses the arguments into options and an output path (throws {@link CredentialsOptionError}). */
export function parseCredentialsArgs(
  argv: string[],
  env: Record<string, string | undefined> = process.env,
): { options: ExternalAccountOptions; out?: string } {
  const values = new Map<string, string>();
  const headers: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (!FLAGS.has(flag))
      throw new CredentialsOptionError(`unknown option ${JSON.stringify(flag.slice(0, 40))}`);
    if (value === undefined || FLAGS.has(value)) throw new CredentialsOptionError(`${flag} needs a value`);
    if (flag === '--header') {
      const eq = value.indexOf('=');
      if (eq <= 0) throw new CredentialsOptionError('--header must be NAME=VALUE');
      headers[value.slice(0, eq)] = value.slice(eq + 1);
      continue;
    }
    if (values.has(flag)) throw new CredentialsOptionError(`${flag} is given twice`);
    values.set(flag, value);
  }
  const serviceUrl = values.get('--service-url') ?? env.TVS_SERVICE_URL;
  const serviceAccount = values.get('--service-account');
  const source = values.get('--source');
  if (!serviceUrl) throw new CredentialsOptionError('--service-url (or TVS_SERVICE_URL) is required');
  if (!serviceAccount) throw new CredentialsOptionError('--service-account is required');
  if (!source) throw new CredentialsOptionError('--source is required');
  const format = values.get('--format');
  if (format !== undefined && format !== 'text' && format !== 'json')
    throw new CredentialsOptionError('--format must be text or json');
  const options: ExternalAccountOptions = {
    serviceUrl,
    serviceAccount,
    source: source as SubjectTokenSourceName,
    env,
    ...(values.has('--token-file') ? { tokenFile: values.get('--token-file') } : {}),
    ...(values.has('--token-audience') ? { tokenAudience: values.get('--token-audience') } : {}),
    ...(Object.keys(headers).length > 0 ? { headers } : {}),
    ...(format !== undefined ? { format } : {}),
    ...(values.has('--field') ? { field: values.get('--field') } : {}),
  };
  return { options, ...(values.has('--out') ? { out: values.get('--out') } : {}) };
}

/** Runs the command; returns the exit code. */
export function main(argv: string[], env: Record<string, string | undefined> = process.env): number {
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${USAGE}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  try {
    const { options, out } = parseCredentialsArgs(argv, env);
    const text = `${JSON.stringify(externalAccountCredentials(options), null, 2)}\n`;
    if (out === undefined) {
      process.stdout.write(text);
    } else {
      writeFileSync(out, text, { mode: 0o600 });
      chmodSync(out, 0o600); // an existing file keeps its mode on write
      process.stderr.write(`wrote ${out}; set GOOGLE_APPLICATION_CREDENTIALS=${out}\n`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof CredentialsOptionError)) throw error;
    process.stderr.write(`tvs-credentials: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
}

// Run as a program (also through node_modules/.bin's symlink), not when imported.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
