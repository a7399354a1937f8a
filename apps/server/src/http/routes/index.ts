import type { HandlerMap } from '../handler.js';
import { accountDataHandlers } from './account-data.js';
import { adminHandlers } from './admin.js';
import { ephemeralHandlers } from './ephemeral.js';
import { presenceHandlers } from './presence.js';
import { directoryHandlers } from './directory.js';
import { mediaHandlers } from './media.js';
import { profileHandlers } from './profile.js';
import { voipHandlers } from './voip.js';
import { loginHandlers } from './login.js';
import { registrationHandlers } from './registration.js';
import { roomHandlers } from './rooms.js';
import { roomStateHandlers } from './room-state.js';
import { syncHandlers } from './sync.js';
import { versionsHandlers } from './versions.js';

/** Every handler by operationId; the router checks this against the operation table. */
export const routeHandlers: HandlerMap = {
  ...versionsHandlers,
  ...registrationHandlers,
  ...loginHandlers,
  ...adminHandlers,
  ...roomHandlers,
  ...roomStateHandlers,
  ...profileHandlers,
  ...directoryHandlers,
  ...mediaHandlers,
  ...voipHandlers,
  ...presenceHandlers,
  ...ephemeralHandlers,
  ...accountDataHandlers,
  ...syncHandlers,
};
