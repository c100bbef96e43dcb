/**
 * What the (absent) consent screen answers. The emulator has no UI: a test queues the next
 * answers — which user signs in, and whether they approve, deny, or approve only some scopes
 * (Google's granular consent lets a user leave API scopes unchecked; sign-in scopes stay granted).
 * Each answer is used by one authorization request, in queue order (first the answers for that
 * request's client, then the ones for any client).
 */

export type ConsentDecision = 'approve' | 'deny';

export interface ConsentAnswer {
  /** The user's sub or email. */
  readonly user: string;
  readonly decision: ConsentDecision;
  /** With `approve`: grant only these of the requested scopes (plus sign-in scopes). */
  readonly scopes?: readonly string[];
  /** Only for authorization requests of this client. */
  readonly clientId?: string;
}

export class ConsentScript {
  private readonly answers: ConsentAnswer[] = [];

  /** Queues an answer. */
  push(answer: ConsentAnswer): void {
    this.answers.push({ ...answer, ...(answer.scopes ? { scopes: [...answer.scopes] } : {}) });
  }

  /** Takes the next answer for an authorization request of `clientId`, if any is queued. */
  take(clientId: string): ConsentAnswer | undefined {
    let index = this.answers.findIndex((a) => a.clientId === clientId);
    if (index < 0) index = this.answers.findIndex((a) => a.clientId === undefined);
    return index < 0 ? undefined : this.answers.splice(index, 1)[0];
  }

  /** Answers still queued. */
  pending(): readonly ConsentAnswer[] {
    return [...this.answers];
  }

  clear(): void {
    this.answers.length = 0;
  }
}
