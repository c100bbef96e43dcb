/** A deep, frozen copy of verified claims, so policy code cannot alter what was verified. */
export function freezeClaims(claims: object): Readonly<Record<string, unknown>> {
  return deepFreeze(structuredClone(claims)) as Readonly<Record<string, unknown>>;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const member of Object.values(value)) deepFreeze(member);
    Object.freeze(value);
  }
  return value;
}
