import { ConfigurableModuleBuilder, Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { AUTH_OPTIONS, type AuthModuleOptions } from './auth-options';
import { DevLoginController } from './dev-login.controller';
import { StreamTicketController } from './stream-ticket.controller';
import { StreamViewerGuard, ViewerGuard } from './viewer.guard';
import { ViewerTokens } from './viewer-tokens';

/** Nest's configurable-module plumbing: `forRoot`, or `forRootAsync` with `useFactory`, `useClass` or `useExisting`. */
const authModule = new ConfigurableModuleBuilder<AuthModuleOptions>({ optionsInjectionToken: AUTH_OPTIONS })
  .setClassMethodName('forRoot')
  .setExtras({}, (definition) => ({
    ...definition,
    global: true,
    imports: [...(definition.imports ?? []), JwtModule.register({})],
    controllers: [DevLoginController, StreamTicketController],
    providers: [...(definition.providers ?? []), ViewerTokens, ViewerGuard, StreamViewerGuard],
    exports: [AUTH_OPTIONS, ViewerTokens, ViewerGuard, StreamViewerGuard],
  }))
  .build();

export type AuthModuleAsyncOptions = typeof authModule.ASYNC_OPTIONS_TYPE;

/** Viewer authentication for the gateway: token issue/verify, the guard and dev login. */
@Module({})
export class AuthModule extends authModule.ConfigurableModuleClass {}
