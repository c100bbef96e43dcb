/**
 * Google accounts that can sign in and consent at the emulated authorization endpoint. `sub` is
 * the account's stable numeric id (Google: up to 21 digits, never reused), the `sub` of its ID
 * tokens and of userinfo; the email may change, the sub never does.
 */
import { randomInt } from 'node:crypto';
import { StateError } from './state-error.js';

export const USER_SUB = /^[0-9]{1,21}$/;

export interface OAuthUser {
  readonly sub: string;
  readonly email: string;
  readonly emailVerified: boolean;
  /** Display name (ID token and userinfo `name` with the profile scope); empty = none. */
  readonly name: string;
  /** Drive's `permissionId` of the account (a different number from `sub`, as at Google). */
  readonly permissionId: string;
}

export interface OAuthUserInput {
  readonly email: string;
  readonly sub?: string;
  readonly emailVerified?: boolean;
  readonly name?: string;
}

export class OAuthUserRegistry {
  private readonly users = new Map<string, OAuthUser>();

  create(input: OAuthUserInput): OAuthUser {
    const sub = input.sub ?? digits(21);
    if (!USER_SUB.test(sub))
      throw new StateError('INVALID_ARGUMENT', `Invalid sub ${sub.slice(0, 40)}: 1-21 digits.`);
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(input.email))
      throw new StateError('INVALID_ARGUMENT', `Invalid email ${input.email.slice(0, 200)}.`);
    if (this.users.has(sub)) throw new StateError('ALREADY_EXISTS', `User ${sub} already exists.`);
    if (this.byEmail(input.email))
      throw new StateError('ALREADY_EXISTS', `User ${input.email} already exists.`);
    const user: OAuthUser = {
      sub,
      email: input.email,
      emailVerified: input.emailVerified ?? true,
      name: input.name ?? '',
      permissionId: digits(20),
    };
    this.users.set(sub, user);
    return user;
  }

  get(sub: string): OAuthUser | undefined {
    return this.users.get(sub);
  }

  /** Emails compare case-insensitively. */
  byEmail(email: string): OAuthUser | undefined {
    const wanted = email.toLowerCase();
    return [...this.users.values()].find((u) => u.email.toLowerCase() === wanted);
  }

  /** A user named by sub or by email (a `login_hint` may be either). */
  find(hint: string): OAuthUser | undefined {
    return USER_SUB.test(hint) ? this.get(hint) : this.byEmail(hint);
  }

  /** The account the emulated browser is signed in with when nothing else says who consents. */
  first(): OAuthUser | undefined {
    return this.users.values().next().value;
  }

  list(): OAuthUser[] {
    return [...this.users.values()];
  }
}

function digits(length: number): string {
  let value = String(randomInt(1, 10));
  while (value.length < length) value += String(randomInt(0, 10));
  return value;
}
