/**
 * Resource names of Secret Manager: parsing what callers send (project id or number) and
 * formatting what the service answers (always the project NUMBER, as Google does:
 * "Secret [projects/435468002770/secrets/csrf-token] already exists.").
 */
import { SecretManagerError, invalidArgument } from './secret-manager-error.js';

/** The project this emulator serves. */
export interface ProjectIdentity {
  projectId: string;
  projectNumber: string;
}

const SECRET_ID = /^[a-zA-Z0-9_-]{1,255}$/;

/** Throws INVALID_ARGUMENT unless `secretId` is 1–255 of `[a-zA-Z0-9_-]`. */
export function checkSecretId(secretId: string): void {
  if (!SECRET_ID.test(secretId)) {
    // Message wording is ours; Google's code for a malformed id is INVALID_ARGUMENT.
    throw invalidArgument(
      `Secret ID [${secretId}] is invalid: it must be 1 to 255 characters of letters, numbers, hyphens and underscores.`,
    );
  }
}

/** `projects/<number>/secrets/<id>` */
export function secretName(project: ProjectIdentity, secretId: string): string {
  return `projects/${project.projectNumber}/secrets/${secretId}`;
}

/** `projects/<number>/secrets/<id>/versions/<n>` */
export function versionName(project: ProjectIdentity, secretId: string, version: number | string): string {
  return `${secretName(project, secretId)}/versions/${version}`;
}

function checkProject(project: ProjectIdentity, given: string, permission: string, resource: string): void {
  if (given === project.projectId || given === project.projectNumber) return;
  // Google checks IAM before existence, so a project the caller cannot see answers
  // PERMISSION_DENIED rather than NOT_FOUND.
  throw new SecretManagerError(
    'PERMISSION_DENIED',
    `Permission '${permission}' denied for resource '${resource}' (or it may not exist).`,
  );
}

function rejectRegional(name: string): void {
  if (/^projects\/[^/]+\/locations\//.test(name)) {
    throw new SecretManagerError(
      'UNIMPLEMENTED',
      `Regional secrets are not supported by this emulator: [${name}].`,
    );
  }
}

/** Parses `projects/<p>` (a list/create parent). */
export function parseProjectParent(project: ProjectIdentity, parent: string, permission: string): void {
  rejectRegional(parent);
  const match = /^projects\/([^/]+)$/.exec(parent);
  if (!match) throw invalidArgument(`Invalid resource name [${parent}]: expected projects/*.`);
  checkProject(project, match[1], permission, parent);
}

/** Parses `projects/<p>/secrets/<s>` and returns the secret id. */
export function parseSecretName(project: ProjectIdentity, name: string, permission: string): string {
  rejectRegional(name);
  const match = /^projects\/([^/]+)\/secrets\/([^/]+)$/.exec(name);
  if (!match) throw invalidArgument(`Invalid resource name [${name}]: expected projects/*/secrets/*.`);
  checkProject(project, match[1], permission, name);
  checkSecretId(match[2]);
  return match[2];
}

/** Parses `projects/<p>/secrets/<s>/versions/<v>`; `v` is a number, `latest` or an alias. */
export function parseVersionName(
  project: ProjectIdentity,
  name: string,
  permission: string,
): { secretId: string; version: string } {
  rejectRegional(name);
  const match = /^projects\/([^/]+)\/secrets\/([^/]+)\/versions\/([^/]+)$/.exec(name);
  if (!match)
    throw invalidArgument(`Invalid resource name [${name}]: expected projects/*/secrets/*/versions/*.`);
  checkProject(project, match[1], permission, name);
  checkSecretId(match[2]);
  return { secretId: match[2], version: match[3] };
}
