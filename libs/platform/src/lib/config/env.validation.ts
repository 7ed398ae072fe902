import type { z } from 'zod';

/** Where variables come from: `process.env` in an app, a literal object in a test. */
export type EnvSource = Readonly<Record<string, string | undefined>>;

/** Per-app defaults for variables the shared schemas leave without one (PORT, WORKER_CONCURRENCY). */
export type EnvDefaults<S extends z.ZodType> = Partial<
  Record<Extract<keyof z.input<S>, string>, string | number | boolean>
>;

/** Default values by variable name; numbers and booleans are written as the strings an env would hold. */
export type EnvDefaultValues = Readonly<Partial<Record<string, string | number | boolean>>>;

export interface ValidateEnvOptions {
  /** Defaults to `process.env`. */
  env?: EnvSource;
  /** Used only where the variable is unset or empty. */
  defaults?: EnvDefaultValues;
}

export interface EnvProblem {
  readonly variable: string;
  readonly problem: string;
}

/** Thrown once, listing every bad variable, so an operator fixes them all in one go. */
export class EnvValidationError extends Error {
  override readonly name = 'EnvValidationError';

  constructor(readonly problems: readonly EnvProblem[]) {
    super(
      `Invalid environment configuration (${problems.length} ${problems.length === 1 ? 'problem' : 'problems'}):\n` +
        problems.map(({ variable, problem }) => `  ${variable}: ${problem}`).join('\n'),
    );
  }
}

// Values of these are never echoed back: the error message ends up in logs.
const SECRET_NAME = /PASSWORD|SECRET|TOKEN|PRIVATE|API_KEY|CREDENTIAL/i;
const MAX_SHOWN = 80;

function describeValue(variable: string, raw: string): string {
  if (SECRET_NAME.test(variable)) return `(got a value of ${raw.length} characters)`;
  // A URL may carry a password in its user-info part.
  const masked = raw.replace(/\/\/[^/@\s]*@/, '//***@');
  const shown = masked.length > MAX_SHOWN ? `${masked.slice(0, MAX_SHOWN)}…` : masked;
  return `(got ${JSON.stringify(shown)})`;
}

/**
 * Reads the environment once: unset and empty variables take the app's defaults, then the schema
 * coerces and checks everything. Returns the typed config or throws one `EnvValidationError`.
 */
export function validateEnv<S extends z.ZodType>(schema: S, options: ValidateEnvOptions = {}): z.output<S> {
  const env = options.env ?? process.env;
  const input: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.defaults ?? {})) {
    if (value !== undefined) input[name] = String(value);
  }
  for (const [name, value] of Object.entries(env)) {
    // `FOO=` in a compose file or a ConfigMap means "not set", not "the empty string".
    if (value !== undefined && value !== '') input[name] = value;
  }

  const result = schema.safeParse(input);
  if (result.success) return result.data;

  const problems: EnvProblem[] = [];
  const seen = new Set<string>();
  for (const issue of result.error.issues) {
    const variable = issue.path.length > 0 ? String(issue.path[0]) : '(environment)';
    if (seen.has(variable)) continue; // the first problem of a variable is the one to fix
    seen.add(variable);
    const raw = input[variable];
    problems.push({
      variable,
      problem: raw === undefined ? issue.message : `${issue.message} ${describeValue(variable, raw)}`,
    });
  }
  throw new EnvValidationError(problems);
}
