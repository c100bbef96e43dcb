/**
 * Policy change notices: the policy secret announces its changes on a topic Secret Manager may
 * publish to, a push subscription delivers them to the token function's notification path as the
 * notifier SA, and the function is told that same SA (it accepts no other caller there) and an
 * audience it accepts. Any one link missing and a break-glass change waits for the TTL.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TfTree } from './lib/hcl-tree.js';
import { blocks, loadTree, locals, resources, text } from './lib/hcl-tree.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));

describe('policy change notification wiring', () => {
  let tree: TfTree;
  beforeAll(async () => {
    tree = await loadTree(ROOT);
  });

  it('gives the policy secret its own topic that the Secret Manager agent may publish to', () => {
    const policy = resources(tree, 'google_secret_manager_secret').find((r) => r.name === 'policy')!;
    const topic = resources(tree, 'google_pubsub_topic').find((r) => r.name === 'policy_changes')!;
    const publisher = resources(tree, 'google_pubsub_topic_iam_member').find(
      (r) => r.name === 'secret_manager_policy_publisher',
    )!;
    expect(text(blocks(policy.body, 'topics')[0]?.name)).toBe('${google_pubsub_topic.policy_changes[0].id}');
    expect(topic.file.dir).toBe(policy.file.dir);
    expect(text(publisher.body.topic)).toBe('${google_pubsub_topic.policy_changes[0].name}');
    expect(text(publisher.body.role)).toBe('roles/pubsub.publisher');
    expect(text(publisher.body.member)).toBe('${local.secret_manager_agent}');
    // Secret Manager checks it may publish when the secret is created.
    expect(text(policy.body.depends_on)).toContain('google_pubsub_topic_iam_member.secret_manager_policy_publisher');
  });

  it('pushes to POST /v1/policy:notify as the notifier, with an audience the function accepts, and tells the function who that is', () => {
    const token = resources(tree, 'google_cloudfunctions2_function').find((r) => r.name === 'token')!;
    const subscription = resources(tree, 'google_pubsub_subscription').find((r) => r.name === 'policy_changes')!;
    const push = blocks(subscription.body, 'push_config')[0];
    const oidc = blocks(push, 'oidc_token')[0];
    const envText = text(locals(tree, token.file.dir).get('environment'));

    expect(subscription.file.dir).toBe(token.file.dir);
    expect(text(subscription.body.topic)).toBe('${var.policy_topic_id}');
    expect(text(push.push_endpoint)).toBe(
      '${google_cloudfunctions2_function.token.service_config[0].uri}/v1/policy:notify',
    );
    expect(text(oidc.service_account_email)).toBe('${var.policy_notifier_service_account_email}');
    expect(text(oidc.audience)).toBe('${split(",", local.audience)[0]}');
    expect(envText).toMatch(/TVS_AUDIENCE\s+= local\.audience\n/);
    expect(envText).toContain('local.notifications ? { TVS_POLICY_NOTIFIER = var.policy_notifier_service_account_email } : {}');
    expect(envText).toMatch(/TVS_POLICY_TTL_SECONDS\s+= tostring\(var\.policy_ttl_seconds\)/);

    const invoker = resources(tree, 'google_cloud_run_v2_service_iam_member').find((r) => r.name === 'policy_notifier')!;
    expect(text(invoker.body.role)).toBe('roles/run.invoker');
    expect(text(invoker.body.member)).toBe('serviceAccount:${var.policy_notifier_service_account_email}');
  });

  it('the complete example wires the secrets module topic and the iam module notifier into the token function', () => {
    const example = readFileSync(join(ROOT, 'examples/complete/main.tf'), 'utf8');
    const tokenModule = example.slice(example.indexOf('module "token_vendor"'), example.indexOf('module "rotation"'));
    expect(tokenModule).toMatch(/\n\s*policy_topic_id\s+= module\.secrets\.policy_topic_id\n/);
    expect(tokenModule).toMatch(
      /\n\s*policy_notifier_service_account_email = module\.iam\.policy_notifier_service_account_email\n/,
    );
  });
});
