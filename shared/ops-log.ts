/**
 * Operational log lines (not audit): one JSON object per line on stderr, which Cloud Logging
 * parses into structured entries. Callers pass log-safe text only: never a token, key or secret.
 */
export type Severity = 'DEBUG' | 'INFO' | 'NOTICE' | 'WARNING' | 'ERROR' | 'CRITICAL';

export type OpsLog = (severity: Severity, message: string, fields?: Record<string, unknown>) => void;

export function createOpsLog(
  component: string,
  write: (line: string) => void = (line) => process.stderr.write(line),
): OpsLog {
  return (severity, message, fields = {}) => {
    write(`${JSON.stringify({ severity, message, component, ...fields, time: new Date().toISOString() })}\n`);
  };
}
