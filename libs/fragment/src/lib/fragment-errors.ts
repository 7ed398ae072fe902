/**
 * Errors a builder throws to say a build can never succeed for these params. The worker harness
 * records them as `failed` at once, without retries; any other error is retried with backoff.
 */
export class PermanentFragmentError extends Error {
  constructor(
    message: string,
    /** Machine-readable reason, surfaced to clients in `F.error` next to the message. */
    readonly code = 'permanent',
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** The thing the fragment describes does not exist (an unknown user): the gateway may answer 404. */
export class FragmentNotFoundError extends PermanentFragmentError {
  constructor(message: string) {
    super(message, 'not_found');
  }
}

/** Raw params did not validate; `param` names the offending one (the HTTP layer answers 400). */
export class FragmentParamsError extends Error {
  constructor(
    readonly fragment: string,
    readonly param: string,
    readonly reason: string,
  ) {
    super(
      param
        ? `invalid parameter "${param}" for fragment "${fragment}": ${reason}`
        : `invalid parameters for fragment "${fragment}": ${reason}`,
    );
    this.name = 'FragmentParamsError';
  }
}

/** Redis (the fragment store or the queues) could not be reached: the HTTP layer answers 503. */
export class FragmentStoreUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`fragment store unavailable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'FragmentStoreUnavailableError';
  }
}
