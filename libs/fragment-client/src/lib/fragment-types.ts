/** The gateway's HTTP contract as the browser sees it (ARCHITECTURE.md). */
export type FragmentStatus = 'ready' | 'stale' | 'pending' | 'failed';

export interface FragmentView {
  readonly status: FragmentStatus;
  readonly data?: unknown;
  readonly builtAt?: string;
  readonly retryAfterMs?: number;
  readonly error?: string;
  readonly errorCode?: string;
}

/** A settled fragment needs no more watching; a stale one does (a rebuild is under way). */
export function isSettled(view: FragmentView): boolean {
  return view.status === 'ready' || view.status === 'failed';
}
