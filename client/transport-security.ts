/**
 * The client sends the workload's ID token (and the Secret Manager reader its access token) to
 * the endpoint it is given. Plain http would expose those credentials to anyone on the path, so
 * it is allowed only to loopback hosts (local emulators and tests); everything else needs https.
 */

/** A plain-http endpoint that is not a loopback host; thrown before any request is made. */
export class InsecureTransportError extends TypeError {
  readonly code = 'INSECURE_TRANSPORT' as const;
  /** The refused host as the URL parser normalised it (never the URL: it may carry credentials). */
  readonly host: string;

  constructor(what: string, host: string) {
    super(
      `${what} must use https; plain http is allowed only to loopback hosts (127.0.0.0/8, ::1, localhost), not ${host}`,
    );
    this.name = 'InsecureTransportError';
    this.host = host;
  }
}

/** `localhost`, an address in 127.0.0.0/8, or `[::1]`, as the WHATWG URL parser writes hostnames. */
export function isLoopbackHost(hostname: string): boolean {
  if (hostname === 'localhost' || hostname === '[::1]') return true;
  // The URL parser has already normalised IPv4 forms (127.1, 0x7f.0.0.1) to dotted decimal.
  return /^127(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(hostname);
}

/**
 * Throws {@link InsecureTransportError} when `url` is plain http to a host that is not loopback.
 * Other schemes are the caller's to judge.
 */
export function assertSecureTransport(url: URL, what: string): void {
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname))
    throw new InsecureTransportError(what, url.hostname);
}
