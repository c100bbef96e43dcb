/**
 * The rotate function checks its caller itself (defence in depth): Terraform must tell it the same
 * invoker and audience that Cloud Scheduler uses, or every scheduled sweep would be refused.
 */
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { TfTree } from './lib/hcl-tree.js';
import { blocks, loadTree, locals, resources, text } from './lib/hcl-tree.js';

const ROOT = fileURLToPath(new URL('../../terraform', import.meta.url));

describe('rotate invoker wiring', () => {
  let tree: TfTree;
  beforeAll(async () => {
    tree = await loadTree(ROOT);
  });

  it('passes rotate the Scheduler identity and the audience Scheduler puts in its OIDC token', () => {
    const rotate = resources(tree, 'google_cloudfunctions2_function').find((r) => r.name === 'rotate')!;
    const job = resources(tree, 'google_cloud_scheduler_job').find((r) => r.file.dir === rotate.file.dir)!;
    const target = blocks(job.body, 'http_target')[0];
    const oidc = blocks(target, 'oidc_token')[0];
    // merge(var.extra_environment_variables, { ... }): the module's own keys come last, so win.
    const envText = text(locals(tree, rotate.file.dir).get('environment'));

    expect(text(blocks(rotate.body, 'service_config')[0]?.environment_variables)).toBe('${local.environment}');
    expect(envText).toMatch(/^\$\{merge\(var\.extra_environment_variables, \{/);
    expect(envText).toMatch(/\n\s*TVS_ROTATE_INVOKERS = var\.invoker_service_account_email\n/);
    expect(envText).toMatch(/\n\s*TVS_ROTATE_AUDIENCE = local\.rotate_url\n/);
    expect(text(oidc.service_account_email)).toBe('${var.invoker_service_account_email}');
    expect(text(oidc.audience)).toBe('${local.rotate_url}');
    expect(text(target.uri)).toBe('${local.rotate_url}');
    // The deterministic function URL, so no dependency cycle on the function's own run.app URI.
    expect(text(locals(tree, rotate.file.dir).get('rotate_url'))).toBe(
      'https://${var.region}-${var.project_id}.cloudfunctions.net/${var.name_prefix}-rotate',
    );
  });
});
