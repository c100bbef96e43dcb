/**
 * IAM allow policies on service accounts, as the IAM Service Account Credentials API checks
 * them: which principal holds which role or permission on which SA. Only SA-level bindings
 * exist here (the product never grants these at project level, and Terraform tests say so).
 */

/** The role Google documents for impersonation, and the permissions it carries that matter here. */
export const TOKEN_CREATOR_ROLE = 'roles/iam.serviceAccountTokenCreator';

/** Predefined roles the emulator knows, with the permissions they include (subset relevant to IAM Credentials). */
export const ROLE_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  [TOKEN_CREATOR_ROLE]: [
    'iam.serviceAccounts.getAccessToken',
    'iam.serviceAccounts.getOpenIdToken',
    'iam.serviceAccounts.implicitDelegation',
    'iam.serviceAccounts.signBlob',
    'iam.serviceAccounts.signJwt',
  ],
  'roles/iam.serviceAccountOpenIdTokenCreator': ['iam.serviceAccounts.getOpenIdToken'],
};

/** Longest lifetime the lifetime-extension org policy allows (12 h). */
export const MAX_EXTENDED_LIFETIME_SECONDS = 43_200;

/** One binding: a member holds a predefined role, or (like a custom role) a list of permissions. */
export interface IamBinding {
  readonly serviceAccount: string;
  /** e.g. `serviceAccount:token-vendor@p.iam.gserviceaccount.com` */
  readonly member: string;
  readonly role: string | readonly string[];
}

/** SA-level IAM bindings plus the `iam.allowServiceAccountCredentialLifetimeExtension` org policy. */
export class IamGrants {
  private readonly bindings: IamBinding[] = [];
  /** SAs listed in the lifetime-extension constraint (lower-case emails). */
  readonly lifetimeExtension = new Set<string>();

  /** Adds a binding. An unknown predefined role is a programmer error (TypeError). */
  grant(binding: IamBinding): void {
    if (typeof binding.role === 'string' && !Object.hasOwn(ROLE_PERMISSIONS, binding.role)) {
      throw new TypeError(
        `IamGrants: unknown role ${binding.role}; known: ${Object.keys(ROLE_PERMISSIONS).join(', ')}`,
      );
    }
    this.bindings.push({
      ...binding,
      serviceAccount: binding.serviceAccount.toLowerCase(),
      member: normaliseMember(binding.member),
    });
  }

  /** Removes every binding of `member` on `serviceAccount`; returns how many were removed. */
  revoke(serviceAccount: string, member: string): number {
    const sa = serviceAccount.toLowerCase();
    const m = normaliseMember(member);
    let removed = 0;
    for (let i = this.bindings.length - 1; i >= 0; i--) {
      if (this.bindings[i].serviceAccount === sa && this.bindings[i].member === m) {
        this.bindings.splice(i, 1);
        removed++;
      }
    }
    return removed;
  }

  /** Whether `member` holds `permission` on `serviceAccount` through any binding. */
  allows(serviceAccount: string, member: string, permission: string): boolean {
    const sa = serviceAccount.toLowerCase();
    const m = normaliseMember(member);
    return this.bindings.some(
      (b) => b.serviceAccount === sa && b.member === m && permissionsOf(b.role).includes(permission),
    );
  }

  /** Whether tokens for `serviceAccount` may live longer than 1 h (up to 12 h). */
  allowsLifetimeExtension(serviceAccount: string): boolean {
    return this.lifetimeExtension.has(serviceAccount.toLowerCase());
  }

  list(): IamBinding[] {
    return this.bindings.map((b) => ({ ...b }));
  }
}

/** The IAM member string of a service account. */
export function serviceAccountMember(email: string): string {
  return `serviceAccount:${email.toLowerCase()}`;
}

function permissionsOf(role: string | readonly string[]): readonly string[] {
  return typeof role === 'string' ? (ROLE_PERMISSIONS[role] ?? []) : role;
}

/** Member types are case-sensitive at Google, emails are not. */
function normaliseMember(member: string): string {
  const i = member.indexOf(':');
  return i < 0 ? member : `${member.slice(0, i)}:${member.slice(i + 1).toLowerCase()}`;
}

/** Applies a seed's `iamBindings` and `lifetimeExtension` (the seed schema already checked them). */
export function seedIamGrants(
  grants: IamGrants,
  seed: { readonly iamBindings: readonly IamBinding[]; readonly lifetimeExtension: readonly string[] },
): void {
  for (const binding of seed.iamBindings) grants.grant(binding);
  for (const email of seed.lifetimeExtension) grants.lifetimeExtension.add(email.toLowerCase());
}
