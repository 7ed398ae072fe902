import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { ViewerRequest } from './viewer.guard';

/** The authenticated viewer's id; use only on routes behind `ViewerGuard`. */
export const ViewerId = createParamDecorator((_data: unknown, context: ExecutionContext): number => {
  const viewerId = context.switchToHttp().getRequest<ViewerRequest>().viewerId;
  if (viewerId === undefined) throw new Error('@ViewerId() used on a route without ViewerGuard');
  return viewerId;
});
