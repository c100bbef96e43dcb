/**
 * Scale-out model: upstream calls per minute of a fleet of token-function instances, each with its
 * own token cache, against Google's per-project quotas. Deterministic (seeded); prints Markdown.
 *
 *   npx tsx bench/scale-model.ts [--seed=1] [--quick] [--per-instance-rps=50 --zipf=1 | --per-key-per-hour=60]
 *     [--keys-per-sa=5] [--downscoped-share=0] [--lifetime=3600] [--refresh-ahead=300] [--policy-ttl=60]
 *
 * Without a rate option it runs two profiles: load-coupled (50 requests/s per instance, Zipf 1 over
 * the keys) and 60 requests an hour per key. See docs/scale.md.
 */
import { fileURLToPath } from 'node:url';
import { saturatedMintsPerMinute } from './scale/closed-form.js';
import {
  DEFAULT_PARAMS,
  KEY_BACKEND_LIFETIME_SECONDS,
  type RateProfile,
  type ScaleParams,
} from './scale/params.js';
import { GOOGLE_QUOTAS, type GoogleQuota } from './scale/quotas.js';
import { compact, quotaMatrix, runGrid, thresholdTable } from './scale/report.js';
import { sharedTierRolloutFirstMinute, sharedTierSteadyPerMinute } from './scale/shared-tier.js';

export const INSTANCES_GRID = [1, 10, 20, 100, 200, 500, 1000] as const;
export const KEYS_GRID = [1, 10, 100, 1000, 3000, 10_000] as const;
const QUICK_INSTANCES = [1, 20, 100, 1000] as const;
const QUICK_KEYS = [10, 1000, 10_000] as const;

function option(args: readonly string[], name: string): number | undefined {
  const raw = args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new RangeError(`--${name}: not a number: ${raw}`);
  return value;
}

function profiles(args: readonly string[]): RateProfile[] {
  const perKey = option(args, 'per-key-per-hour');
  const perInstance = option(args, 'per-instance-rps');
  if (perKey !== undefined) return [{ kind: 'per-key', requestsPerKeyPerHour: perKey }];
  if (perInstance !== undefined)
    return [
      {
        kind: 'per-instance',
        requestsPerInstancePerSecond: perInstance,
        zipfExponent: option(args, 'zipf') ?? 1,
      },
    ];
  return [
    { kind: 'per-instance', requestsPerInstancePerSecond: 50, zipfExponent: 1 },
    { kind: 'per-key', requestsPerKeyPerHour: 60 },
  ];
}

export function describeProfile(rates: RateProfile): string {
  return rates.kind === 'per-key'
    ? `${rates.requestsPerKeyPerHour} requests an hour per key`
    : `${rates.requestsPerInstancePerSecond} requests/s per instance, Zipf ${rates.zipfExponent} over the keys`;
}

function quota(id: GoogleQuota['id']): GoogleQuota {
  return GOOGLE_QUOTAS.find((q) => q.id === id)!;
}

function main(args: readonly string[]): void {
  const seed = option(args, 'seed') ?? 1;
  const quick = args.includes('--quick');
  const instancesGrid = quick ? QUICK_INSTANCES : INSTANCES_GRID;
  const keysGrid = quick ? QUICK_KEYS : KEYS_GRID;
  const base: ScaleParams = {
    ...DEFAULT_PARAMS,
    keysPerServiceAccount: option(args, 'keys-per-sa') ?? DEFAULT_PARAMS.keysPerServiceAccount,
    downscopedShare: option(args, 'downscoped-share') ?? DEFAULT_PARAMS.downscopedShare,
    keylessLifetimeSeconds: option(args, 'lifetime') ?? DEFAULT_PARAMS.keylessLifetimeSeconds,
    refreshAheadSeconds: option(args, 'refresh-ahead') ?? DEFAULT_PARAMS.refreshAheadSeconds,
    policyTtlSeconds: option(args, 'policy-ttl') ?? DEFAULT_PARAMS.policyTtlSeconds,
  };
  const out: string[] = [`# Scale model (seed ${seed}${quick ? ', quick grid' : ''})`, ''];
  out.push(
    `Settings: ${base.keysPerServiceAccount} keys per service account, refresh ahead ${base.refreshAheadSeconds} s, ` +
      `keyless lifetime ${base.keylessLifetimeSeconds} s (key-backed ${KEY_BACKEND_LIFETIME_SECONDS} s), ` +
      `key re-read ${base.keyRefreshIntervalSeconds} s, policy TTL ${base.policyTtlSeconds} s, downscoped share ${base.downscopedShare}.`,
    'Cells: calls per minute, "steady mean (closed form) / steady busiest minute / rollout busiest minute"; **bold** is over the quota.',
    '',
  );
  for (const rates of profiles(args)) {
    out.push(`## ${describeProfile(rates)}`, '');
    const keyless = runGrid({ ...base, rates, keylessShare: 1 }, instancesGrid, keysGrid, seed);
    const keyBacked = runGrid({ ...base, rates, keylessShare: 0 }, instancesGrid, keysGrid, seed);
    const sections: Array<[string, GoogleQuota, typeof keyless]> = [
      ['All SAs keyless: IAM Credentials calls', quota('iamCredentials'), keyless],
      [
        'All SAs key-backed: Secret Manager access (key + policy reads)',
        quota('secretManagerAccess'),
        keyBacked,
      ],
      ['All SAs key-backed: token-endpoint exchanges', quota('tokenEndpoint'), keyBacked],
    ];
    if (base.downscopedShare > 0) sections.push(['All SAs keyless: STS exchanges', quota('sts'), keyless]);
    for (const [title, q, points] of sections) {
      const limit =
        q.perMinute === null ? 'no published quota found' : `quota ${q.perMinute.toLocaleString('en')}/min`;
      out.push(`### ${title} (${limit})`, '', quotaMatrix(points, q), '');
      if (q.perMinute !== null)
        out.push(
          'Fewest instances (of the grid) at which the quota is exceeded:',
          '',
          thresholdTable(points, q),
          '',
        );
    }
  }
  out.push(...sharedTierSection(base, profiles(args)[0], instancesGrid, keysGrid));
  const iam = quota('iamCredentials').perMinute!;
  const perKeyInstance = saturatedMintsPerMinute(1, 1, base.keylessLifetimeSeconds, base.refreshAheadSeconds);
  out.push(
    '## Ceiling (every instance holds every key)',
    '',
    `Steady: ${perKeyInstance.toFixed(4)} mints per minute per (instance, key), so instances × keys ≤ ` +
      `${Math.floor(iam / perKeyInstance).toLocaleString('en')} stays under ${iam.toLocaleString('en')}/min. ` +
      `Rollout: one mint per (instance, key) in the first minute, so instances × keys ≤ ${iam.toLocaleString('en')}.`,
    '',
    '## Quota sources',
    '',
    ...GOOGLE_QUOTAS.map(
      (q) =>
        `- ${q.name}: ${q.perMinute === null ? 'unknown' : `${q.perMinute.toLocaleString('en')} per minute per project`} — ${q.source}`,
    ),
    '',
  );
  process.stdout.write(out.join('\n'));
}

/**
 * The shared cache tier (closed form): upstream mints, Redis reads and KMS decrypts per minute,
 * "steady / first minute of a scale-out with an empty Redis".
 */
export function sharedTierSection(
  base: ScaleParams,
  rates: RateProfile,
  instancesGrid: readonly number[],
  keysGrid: readonly number[],
): string[] {
  const rows = (measure: (r: ReturnType<typeof sharedTierSteadyPerMinute>) => number) => {
    const lines = [
      `| keys \\ instances | ${instancesGrid.join(' | ')} |`,
      `| ---: | ${instancesGrid.map(() => '---').join(' | ')} |`,
    ];
    for (const keys of keysGrid) {
      const cells = instancesGrid.map((instances) => {
        const p = { ...base, rates, instances, keys, keylessShare: 1 };
        return `${compact(measure(sharedTierSteadyPerMinute(p)))} / ${compact(measure(sharedTierRolloutFirstMinute(p)))}`;
      });
      lines.push(`| ${keys} | ${cells.join(' | ')} |`);
    }
    return lines.join('\n');
  };
  return [
    `## With the shared cache tier (${describeProfile(rates)}; closed form)`,
    '',
    'Cells: calls per minute, "steady mean / first minute of a scale-out with an empty Redis".',
    '',
    '### Upstream mints (IAM Credentials or token endpoint): whatever the number of instances',
    '',
    rows((r) => r.mints),
    '',
    '### Redis reads (one per local miss or refresh)',
    '',
    rows((r) => r.redisReads),
    '',
    '### Cloud KMS decrypts (one per instance per hourly data key)',
    '',
    rows((r) => r.kmsDecrypts),
    '',
  ];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.slice(2));
