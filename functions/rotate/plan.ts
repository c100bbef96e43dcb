/** The dry-run plan: what the next run would do to a secret, in words (ids only). */
import type { SecretSession } from './secret-session.js';

export function planFor(session: SecretSession): string[] {
  const { state, config, info } = session;
  const kind = config.kind === 'sa-key' ? 'service-account key' : 'API key';
  const graceHours = Math.round(config.graceMs / 360_000) / 10;
  const retire = [
    `after ${graceHours} h: disable the old ${kind}${state.currentKey ? ` ${state.currentKey}` : ''} and its version`,
    `after another ${graceHours} h: delete the old ${kind} and destroy its version`,
  ];
  const verifyPromote = [
    `verify the new ${kind} (${config.kind === 'sa-key' ? 'token exchange' : 'authenticated Gemini call'}); on failure roll back`,
    `promote: alias current → new version${info.aliases.current !== undefined ? `, previous → ${info.aliases.current}` : ''}`,
  ];
  switch (state.phase) {
    case 'idle':
      return [
        `claim ${info.secretId} (generation ${state.generation + 1})`,
        ...(config.kind === 'sa-key' ? [`check the key count of ${config.target} (limit 10)`] : []),
        `create a new ${kind} for ${config.target}`,
        'store it as a new secret version (CRC32C)',
        ...verifyPromote,
        ...(state.currentKey || info.aliases.current !== undefined ? retire : []),
      ];
    case 'creating':
      return [
        'resume: destroy versions added since the claim and delete orphan keys',
        `create a new ${kind}`,
        'store it as a new secret version',
        ...verifyPromote,
      ];
    case 'verifying':
      return [
        `verify the ${kind} ${state.newKey ?? ''} in version ${state.newVersion ?? '?'}`.replace(/\s+/g, ' '),
        ...verifyPromote.slice(1),
      ];
    case 'retiring':
      return [
        `disable the old ${kind} ${state.oldKey ?? ''} and version ${state.oldVersion ?? '-'}`.replace(
          /\s+/g,
          ' ',
        ),
        ...retire.slice(1),
      ];
    case 'purging':
      return [
        `delete the old ${kind} ${state.oldKey ?? ''} and destroy version ${state.oldVersion ?? '-'}`.replace(
          /\s+/g,
          ' ',
        ),
      ];
  }
}
