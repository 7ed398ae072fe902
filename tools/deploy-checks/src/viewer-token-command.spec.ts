import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JwtService } from '@nestjs/jwt';
import { ViewerTokens } from '@worker-pattern/auth';
import { DEPLOY_DOC } from './lib/apply-sets';
import { WORKSPACE_ROOT } from './lib/k8s-docs';

/**
 * docs/deploy.md, "Viewer tokens": production has no dev login, so operators mint a token in a
 * gateway pod with a `node -e` one-liner. Run here as the pod would run it (its JWT_SECRET in the
 * environment), its token must be one the gateway's own verifier accepts.
 */
const COMMAND = /^kubectl -n worker-pattern exec deploy\/gateway -- node -e '([^']+)' ([0-9]+)$/m;

function documentedScript(): string {
  const match = COMMAND.exec(readFileSync(join(WORKSPACE_ROOT, DEPLOY_DOC), 'utf8'));
  if (!match)
    throw new Error(`${DEPLOY_DOC} has no "kubectl -n worker-pattern exec deploy/gateway -- node -e '…' <id>" line`);
  return match[1];
}

function mint(secret: string, userId: string): string {
  return execFileSync(process.execPath, ['-e', documentedScript(), userId], {
    env: { PATH: process.env['PATH'], JWT_SECRET: secret },
    encoding: 'utf8',
  }).trim();
}

const verifier = (secret: string) => new ViewerTokens(new JwtService({}), { secret, ttlSeconds: 60, devLogin: false });

describe("docs/deploy.md's viewer-token command", () => {
  const secret = 'a-cluster-secret-of-at-least-32-characters';

  it('mints an API token for the given user, valid for an hour, that the gateway accepts', () => {
    const session = verifier(secret).session(mint(secret, '4242'));
    expect(session.viewerId).toBe(4242);
    expect(session.expiresAtMs - Date.now()).toBeGreaterThan(3_500_000);
    expect(session.expiresAtMs - Date.now()).toBeLessThanOrEqual(3_600_000);
  });

  it('signs with the pod’s JWT_SECRET: another secret does not verify it', () => {
    expect(() => verifier('another-secret-of-at-least-32-characters').session(mint(secret, '7'))).toThrow(
      /invalid signature/,
    );
  });
});
