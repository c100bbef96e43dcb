import { describe, expect, it } from 'vitest';
import {
  CredentialsOptionError,
  externalAccountCredentials,
  type ExternalAccountOptions,
} from '../../../client/external-account.js';

const SA = 'deployer@my-project.iam.gserviceaccount.com';
const SERVICE = 'https://tvs.example.com';
const base = { serviceUrl: SERVICE, serviceAccount: SA, cwd: '/work/job', env: {} } as const;

function refusal(options: ExternalAccountOptions): string {
  try {
    externalAccountCredentials(options);
  } catch (error) {
    expect(error).toBeInstanceOf(CredentialsOptionError);
    return (error as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('externalAccountCredentials', () => {
  it('writes the external_account fields the libraries read, for a Kubernetes projected token', () => {
    expect(externalAccountCredentials({ ...base, source: 'k8s-file' })).toEqual({
      type: 'external_account',
      audience: `//tokenvending/serviceAccounts/${SA}`,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: 'https://tvs.example.com/v1/token',
      credential_source: { file: '/var/run/secrets/tokens/token-vending', format: { type: 'text' } },
    });
  });

  it('drops trailing slashes of the service URL and keeps a path prefix', () => {
    const c = externalAccountCredentials({
      ...base,
      serviceUrl: 'https://h.example/tvs//',
      source: 'k8s-file',
    });
    expect(c.token_url).toBe('https://h.example/tvs/v1/token');
  });

  it('resolves the GitLab token file against the working directory, or takes the one given', () => {
    expect(externalAccountCredentials({ ...base, source: 'gitlab' }).credential_source).toEqual({
      file: '/work/job/.tvs-id-token',
      format: { type: 'text' },
    });
    expect(
      externalAccountCredentials({ ...base, source: 'gitlab', tokenFile: './t/id' }).credential_source.file,
    ).toBe('/work/job/t/id');
    expect(
      externalAccountCredentials({ ...base, source: 'k8s-file', tokenFile: '/var/run/t' }).credential_source
        .file,
    ).toBe('/var/run/t');
  });

  it('builds the GitHub source from the job environment: request URL with the audience, bearer header, JSON field value', () => {
    const env = {
      ACTIONS_ID_TOKEN_REQUEST_URL:
        'https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0',
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'request-token',
    };
    const c = externalAccountCredentials({ ...base, env, source: 'github' });
    expect(c.credential_source).toEqual({
      url: 'https://pipelines.actions.githubusercontent.com/abc/idtoken?api-version=2.0&audience=https%3A%2F%2Ftvs.example.com',
      headers: { Authorization: 'Bearer request-token' },
      format: { type: 'json', subject_token_field_name: 'value' },
    });
    const other = externalAccountCredentials({ ...base, env, source: 'github', tokenAudience: 'tvs' });
    expect(new URL(other.credential_source.url!).searchParams.get('audience')).toBe('tvs');
  });

  it('refuses the GitHub source outside a job, saying what is missing', () => {
    expect(refusal({ ...base, source: 'github' })).toMatch(
      /ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN.*id-token: write/,
    );
  });

  it('takes any file or URL, as text or a JSON field, with headers for URLs', () => {
    expect(
      externalAccountCredentials({ ...base, source: 'file:tok.json', format: 'json', field: 'id_token' })
        .credential_source,
    ).toEqual({
      file: '/work/job/tok.json',
      format: { type: 'json', subject_token_field_name: 'id_token' },
    });
    expect(
      externalAccountCredentials({
        ...base,
        source: 'url:http://127.0.0.1:9000/token',
        headers: { 'Metadata-Flavor': 'Google' },
      }).credential_source,
    ).toEqual({
      url: 'http://127.0.0.1:9000/token',
      headers: { 'Metadata-Flavor': 'Google' },
      format: { type: 'text' },
    });
    expect(
      externalAccountCredentials({ ...base, source: 'url:https://idp.example/t', format: 'json' })
        .credential_source.format,
    ).toEqual({ type: 'json', subject_token_field_name: 'value' });
  });

  it.each<[string, Partial<ExternalAccountOptions>, RegExp]>([
    [
      'an http service URL off loopback',
      { serviceUrl: 'http://tvs.example.com' },
      /serviceUrl must be https/,
    ],
    ['a service URL with a password', { serviceUrl: 'https://u:p@tvs.example.com' }, /user name or password/],
    ['a service URL that is not one', { serviceUrl: 'tvs.example.com' }, /serviceUrl is not a URL/],
    ['an upper-case or non-email service account', { serviceAccount: 'Deployer@P' }, /service account email/],
    [
      'an unknown source',
      { source: 'aws' as never },
      /source must be github, gitlab, k8s-file, file:PATH or url:URL/,
    ],
    ['an empty file path', { source: 'file:' }, /needs a path/],
    ['a path with a newline', { source: 'file:/tmp/a\nb' }, /control character/],
    ['an http token URL off loopback', { source: 'url:http://idp.example/t' }, /source url: must be https/],
    [
      'a header name with a colon',
      { source: 'url:https://idp/t', headers: { 'a:b': 'c' } },
      /header name "a:b"/,
    ],
    [
      'a header value with CRLF',
      { source: 'url:https://idp/t', headers: { a: 'b\r\nX-Evil: 1' } },
      /header a has a control character/,
    ],
    ['a field with format text', { source: 'file:/t', field: 'x' }, /field applies to format json only/],
    ['a field that is not a name', { source: 'file:/t', format: 'json', field: 'a b' }, /field must be/],
    [
      'headers for a file',
      { source: 'file:/t', headers: { a: 'b' } },
      /headers does not apply to source file:/,
    ],
    [
      'a token file for github',
      { source: 'github', tokenFile: '/t' },
      /tokenFile does not apply to source github/,
    ],
    ['an audience for k8s-file', { source: 'k8s-file', tokenAudience: 'x' }, /tokenAudience does not apply/],
  ])('refuses %s', (_name, over, message) => {
    expect(refusal({ ...base, source: 'k8s-file', ...over })).toMatch(message);
  });

  it('never puts a header value in a refusal', () => {
    expect(refusal({ ...base, source: 'url:https://idp/t', headers: { a: 'SECRET\n' } })).not.toContain(
      'SECRET',
    );
  });
});
