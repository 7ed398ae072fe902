import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { FragmentEvents, parseFragmentEvent } from './fragment-events';
import { FRAGMENT_SETTLED_PATTERN } from './fragment-key';

/** Receives the workers' "fragment settled" events (Nest Redis transport) and fans them out. */
@Controller()
export class FragmentEventsController {
  constructor(private readonly events: FragmentEvents) {}

  @EventPattern(FRAGMENT_SETTLED_PATTERN)
  settled(@Payload() data: unknown): void {
    const event = parseFragmentEvent(data);
    if (event) this.events.dispatch(event);
  }
}
