/**
 * What the list filters can see of a Secret or SecretVersion, under the proto's snake_case
 * field names (`labels.env`, `replication.user_managed.replicas.location`, `state`, ...).
 */
import type { FilterDoc } from './list-filter.js';
import type { Secret, SecretVersion } from './secret-model.js';

export const SECRET_FILTER_FIELDS: ReadonlySet<string> = new Set([
  'name',
  'labels',
  'create_time',
  'replication',
  'topics',
  'expire_time',
  'annotations',
]);
export const VERSION_FILTER_FIELDS: ReadonlySet<string> = new Set([
  'name',
  'state',
  'create_time',
  'destroy_time',
]);

export function secretFilterDoc(secret: Secret): FilterDoc {
  const replication =
    'userManaged' in secret.replication
      ? {
          user_managed: {
            replicas: secret.replication.userManaged.replicas.map((r) => ({ location: r.location })),
          },
        }
      : { automatic: {} };
  return {
    name: secret.name,
    labels: { ...secret.labels },
    annotations: { ...secret.annotations },
    create_time: secret.createTime,
    expire_time: secret.expireTime,
    replication,
    topics: secret.topics.map((t) => ({ name: t.name })),
  };
}

export function versionFilterDoc(version: SecretVersion): FilterDoc {
  return {
    name: version.name,
    state: version.state,
    create_time: version.createTime,
    destroy_time: version.destroyTime,
  };
}
