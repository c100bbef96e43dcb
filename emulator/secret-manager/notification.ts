/**
 * Builds the notification Secret Manager would publish to a secret's topics: the event type,
 * `secretId`, the version name for version events, a timestamp, and the resource as proto3 JSON
 * (docs/event-notifications: "data ... a complete JSON serialization of the Secret or
 * SecretVersion resource"). Secrets without topics publish nothing.
 */
import { secretToJson, versionToJson } from './proto-json.js';
import type { NotificationEventType, Secret, SecretNotification, SecretVersion } from './secret-model.js';

export function buildNotification(
  projectId: string,
  eventType: NotificationEventType,
  at: Date,
  secret: Secret,
  version?: SecretVersion,
): SecretNotification | undefined {
  if (secret.topics.length === 0) return undefined;
  const notification: SecretNotification = {
    eventType,
    secretId: `projects/${projectId}/secrets/${secret.secretId}`,
    topics: secret.topics.map((t) => t.name),
    timestamp: at.toISOString(),
    data: version ? versionToJson(version) : secretToJson(secret),
  };
  if (version) notification.versionId = version.name;
  return notification;
}
