/**
 * Application Default Credentials that fetch from the token vending service: the
 * `external_account` credentials file every Google client library (Node, Python, Go, Java, gcloud)
 * reads from `GOOGLE_APPLICATION_CREDENTIALS`. The library reads the workload's OIDC token from
 * `credential_source` (a file or a URL), POSTs it to `token_url` (this service's `/v1/token`) in
 * Google STS's request shape, and uses the access token it gets back; it re-reads the source and
 * exchanges again when the token nears expiry.
 *
 * The file names paths and URLs only, with one exception: the `github` source must carry the job's
 * `ACTIONS_ID_TOKEN_REQUEST_TOKEN` (GitHub's runner gives no other way to ask for an OIDC token),
 * a credential good only for asking this job's OIDC tokens until the job ends. Write that file
 * `0600` in `$RUNNER_TEMP`, as `npm run credentials -- --out` does.
 */
import { JWT_TOKEN_TYPE, SERVICE_ACCOUNT_EMAIL, stsAudience } from '../shared/sts.js';
import { isLoopbackHost } from './transport-security.js';

/** Where the workload's OIDC token comes from. */
export type SubjectTokenSourceName = 'github' | 'gitlab' | 'k8s-file' | `file:${string}` | `url:${string}`;

export interface ExternalAccountOptions {
  /** The token service's base URL (`https://…`; `http://` for loopback only). */
  serviceUrl: string;
  /** The service account the tokens are for. */
  serviceAccount: string;
  source: SubjectTokenSourceName;
  /** `gitlab` / `k8s-file`: the token file (defaults: `./.tvs-id-token`, `/var/run/secrets/tokens/token-vending`). */
  tokenFile?: string;
  /** `github`: the audience to ask GitHub for (default: `serviceUrl`); must be one the service accepts. */
  tokenAudience?: string;
  /** `url:` sources: request headers. */
  headers?: Record<string, string>;
  /** `file:` / `url:` sources: the token is the whole body (`text`, default) or a JSON field. */
  format?: 'text' | 'json';
  /** With `format: 'json'`: the field holding the token (default `value`). */
  field?: string;
  /** Environment for `github` (default `process.env`) and for resolving relative paths. */
  env?: Record<string, string | undefined>;
  /** Base for relative token file paths (default `process.cwd()`). */
  cwd?: string;
}

export interface ExternalAccountCredentials {
  type: 'external_account';
  audience: string;
  subject_token_type: string;
  token_url: string;
  credential_source: {
    file?: string;
    url?: string;
    headers?: Record<string, string>;
    format: { type: 'text' } | { type: 'json'; subject_token_field_name: string };
  };
}

/** A usage mistake in the options: the message names the option, never a header value. */
export class CredentialsOptionError extends Error {
  override readonly name = 'CredentialsOptionError';
}

export const DEFAULT_GITLAB_TOKEN_FILE = '.tvs-id-token';
export const DEFAULT_K8S_TOKEN_FILE = '/var/run/secrets/tokens/token-vending';
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;

/** Builds the `external_account` credentials for `options` (throws {@link CredentialsOptionError}). */
export function externalAccountCredentials(options: ExternalAccountOptions): ExternalAccountCredentials {
  const env = options.env ?? process.env;
  const serviceUrl = checkedUrl(options.serviceUrl, 'serviceUrl');
  if (!SERVICE_ACCOUNT_EMAIL.test(options.serviceAccount))
    throw new CredentialsOptionError('serviceAccount must be a service account email (lower case)');
  return {
    type: 'external_account',
    audience: stsAudience(options.serviceAccount),
    subject_token_type: JWT_TOKEN_TYPE,
    token_url: `${serviceUrl.replace(/\/+$/, '')}/v1/token`,
    credential_source: credentialSource(options, serviceUrl, env),
  };
}

function credentialSource(
  options: ExternalAccountOptions,
  serviceUrl: string,
  env: Record<string, string | undefined>,
): ExternalAccountCredentials['credential_source'] {
  const { source } = options;
  const only = (allowed: Array<keyof ExternalAccountOptions>) => {
    const extra = (['tokenFile', 'tokenAudience', 'headers', 'format', 'field'] as const).find(
      (k) => options[k] !== undefined && !allowed.includes(k),
    );
    if (extra !== undefined)
      throw new CredentialsOptionError(`${extra} does not apply to source ${kind(source)}`);
  };
  if (source === 'github') {
    only(['tokenAudience']);
    const requestUrl = env.ACTIONS_ID_TOKEN_REQUEST_URL;
    const requestToken = env.ACTIONS_ID_TOKEN_REQUEST_TOKEN;
    if (!requestUrl || !requestToken) {
      throw new CredentialsOptionError(
        'source github needs ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN: run it in the ' +
          'job itself, with `permissions: id-token: write`',
      );
    }
    const url = new URL(checkedUrl(requestUrl, 'ACTIONS_ID_TOKEN_REQUEST_URL'));
    url.searchParams.set('audience', options.tokenAudience ?? serviceUrl);
    return {
      url: url.toString(),
      headers: { Authorization: `Bearer ${requestToken}` },
      format: { type: 'json', subject_token_field_name: 'value' },
    };
  }
  if (source === 'gitlab' || source === 'k8s-file') {
    only(['tokenFile']);
    const file =
      options.tokenFile ?? (source === 'gitlab' ? DEFAULT_GITLAB_TOKEN_FILE : DEFAULT_K8S_TOKEN_FILE);
    return { file: absolute(file, options.cwd), format: { type: 'text' } };
  }
  const format = tokenFormat(options);
  if (source.startsWith('file:')) {
    only(['format', 'field']);
    const file = source.slice('file:'.length);
    if (file === '') throw new CredentialsOptionError('source file: needs a path (file:PATH)');
    return { file: absolute(file, options.cwd), format };
  }
  if (source.startsWith('url:')) {
    only(['headers', 'format', 'field']);
    const url = checkedUrl(source.slice('url:'.length), 'source url:');
    return { url, ...(options.headers ? { headers: checkedHeaders(options.headers) } : {}), format };
  }
  throw new CredentialsOptionError(
    `source must be github, gitlab, k8s-file, file:PATH or url:URL, not ${JSON.stringify(String(source).slice(0, 40))}`,
  );
}

function kind(source: string): string {
  return source.startsWith('file:') ? 'file:' : source.startsWith('url:') ? 'url:' : source;
}

function tokenFormat(
  options: ExternalAccountOptions,
): ExternalAccountCredentials['credential_source']['format'] {
  const type = options.format ?? 'text';
  if (type === 'text') {
    if (options.field !== undefined) throw new CredentialsOptionError('field applies to format json only');
    return { type: 'text' };
  }
  if (type !== 'json') throw new CredentialsOptionError('format must be text or json');
  const field = options.field ?? 'value';
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(field))
    throw new CredentialsOptionError('field must be 1-100 letters, digits, _ . or -');
  return { type: 'json', subject_token_field_name: field };
}

function absolute(path: string, cwd = process.cwd()): string {
  if (/[\r\n\0]/.test(path)) throw new CredentialsOptionError('the token file path has a control character');
  if (path.startsWith('/')) return path;
  return `${cwd.replace(/\/+$/, '')}/${path.replace(/^\.\//, '')}`;
}

/** An https URL, or http on a loopback host (the local stack); no credentials in it. */
function checkedUrl(raw: string, what: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CredentialsOptionError(`${what} is not a URL`);
  }
  const loopback = isLoopbackHost(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback))
    throw new CredentialsOptionError(`${what} must be https (http only on localhost)`);
  if (url.username !== '' || url.password !== '')
    throw new CredentialsOptionError(`${what} must not carry a user name or password`);
  return raw;
}

function checkedHeaders(headers: Record<string, string>): Record<string, string> {
  for (const [name, value] of Object.entries(headers)) {
    if (!HEADER_NAME.test(name))
      throw new CredentialsOptionError(`header name ${JSON.stringify(name.slice(0, 40))} is not valid`);
    if (/[\r\n\0]/.test(value))
      throw new CredentialsOptionError(`header ${name} has a control character in its value`);
  }
  return { ...headers };
}
