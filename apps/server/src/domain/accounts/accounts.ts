import { errors } from '../../errors.js';
import type { Storage } from '../../storage/storage.js';
import { checkPasswordLength, hashPassword, verifyPassword } from './password.js';
import { hashToken, newAccessToken, newDeviceId } from './tokens.js';
import { checkLocalpart, randomLocalpart, resolveUserId, userIdFor } from './user-id.js';

export interface AccountsOptions {
  serverName: string;
  enableRegistration: boolean;
  now?: () => number;
}

export interface Session {
  userId: string;
  accessToken: string;
  deviceId: string;
}

/** Who made a request, from a valid access token. */
export interface Requester {
  userId: string;
  deviceId: string;
  tokenHash: string;
}

export interface RegisterRequest {
  /** Omitted: the server picks one. */
  localpart?: string;
  password: string;
  admin?: boolean;
  /** Shared-secret registration works even when public registration is off. */
  viaSharedSecret?: boolean;
}

/** Valid tokens remembered (a few hundred bytes each); the oldest go first beyond it. */
const TOKEN_CACHE_SIZE = 50_000;

export class Accounts {
  readonly serverName: string;
  /**
   * Tokens already checked, by the token itself (no hash per request), for stores that
   * say when a token may have been revoked (`tokenGeneration`): every request checks it,
   * and a change forgets them all. Revocations are rare; lookups are on every request.
   */
  private readonly tokenCache = new Map<string, Requester>();
  private tokenCacheGeneration: number | undefined;
  private readonly enableRegistration: boolean;
  private readonly now: () => number;

  constructor(private readonly storage: Storage, options: AccountsOptions) {
    this.serverName = options.serverName;
    this.enableRegistration = options.enableRegistration;
    this.now = options.now ?? Date.now;
  }

  /** Throws M_FORBIDDEN when clients may not register themselves. */
  assertRegistrationOpen(): void {
    if (!this.enableRegistration) throw errors.forbidden('Registration has been disabled');
  }

  /** Checks the username before any user-interactive auth starts, as Synapse does. */
  async checkUsernameAvailable(localpart: string): Promise<void> {
    checkLocalpart(localpart, this.serverName);
    if (await this.storage.getUser(userIdFor(localpart, this.serverName))) throw errors.userInUse();
  }

  async register(request: RegisterRequest): Promise<Session> {
    if (!request.viaSharedSecret) this.assertRegistrationOpen();
    checkPasswordLength(request.password);
    const localpart = request.localpart ?? randomLocalpart();
    checkLocalpart(localpart, this.serverName);
    const userId = userIdFor(localpart, this.serverName);
    const passwordHash = await hashPassword(request.password);
    const created = await this.storage.createUser({ userId, passwordHash, admin: request.admin ?? false, createdTs: this.now() });
    if (!created) throw errors.userInUse();
    return this.issueSession(userId, localpart);
  }

  async login(user: string, password: string): Promise<Session> {
    checkPasswordLength(password);
    const userId = resolveUserId(user, this.serverName);
    const record = userId ? await this.storage.getUser(userId) : null;
    const ok = await verifyPassword(password, record?.passwordHash ?? null);
    if (!record || !ok || record.deactivated) throw errors.forbidden('Invalid username or password');
    return this.issueSession(record.userId, record.userId.slice(1, record.userId.indexOf(':')));
  }

  async authenticate(accessToken: string): Promise<Requester> {
    const generation = this.storage.tokenGeneration?.();
    if (generation !== undefined) {
      if (generation !== this.tokenCacheGeneration) {
        this.tokenCache.clear();
        this.tokenCacheGeneration = generation;
      }
      const known = this.tokenCache.get(accessToken);
      if (known) return known;
    }
    const tokenHash = hashToken(accessToken);
    const token = await this.storage.getAccessToken(tokenHash);
    if (!token) throw errors.unknownToken();
    // shared by every request made with the token: frozen
    const requester: Requester = Object.freeze({ userId: token.userId, deviceId: token.deviceId, tokenHash });
    // only if nothing was revoked while the lookup ran
    if (generation !== undefined && this.storage.tokenGeneration?.() === generation) {
      if (this.tokenCache.size >= TOKEN_CACHE_SIZE) this.tokenCache.delete(this.tokenCache.keys().next().value!);
      this.tokenCache.set(accessToken, requester);
    }
    return requester;
  }

  async logout(requester: Requester): Promise<void> {
    await this.storage.deleteAccessToken(requester.tokenHash);
  }

  /** Sets a new password and, as Synapse does by default, logs out the user's other sessions. */
  async changePassword(requester: Requester, newPassword: string): Promise<void> {
    checkPasswordLength(newPassword);
    await this.storage.setPasswordHash(requester.userId, await hashPassword(newPassword));
    await this.storage.deleteAccessTokensOfUser(requester.userId, requester.tokenHash);
  }

  /** The operator's reset: every session of the user ends. */
  async resetPassword(user: string, newPassword: string): Promise<string> {
    checkPasswordLength(newPassword);
    const userId = resolveUserId(user, this.serverName);
    if (!userId || !(await this.storage.getUser(userId))) throw errors.notFound(`Unknown user ${user}`);
    await this.storage.setPasswordHash(userId, await hashPassword(newPassword));
    await this.storage.deleteAccessTokensOfUser(userId);
    return userId;
  }

  /**
   * The operator's deactivation: the account can no longer log in, and every session
   * ends at once (its tokens are deleted). Returns the user id.
   */
  async deactivate(user: string): Promise<string> {
    const userId = resolveUserId(user, this.serverName);
    if (!userId || !(await this.storage.setDeactivated(userId, true))) throw errors.notFound(`Unknown user ${user}`);
    await this.storage.deleteAccessTokensOfUser(userId);
    return userId;
  }

  private async issueSession(userId: string, localpart: string): Promise<Session> {
    const accessToken = newAccessToken(localpart);
    const deviceId = newDeviceId();
    await this.storage.addAccessToken({ tokenHash: hashToken(accessToken), userId, deviceId, createdTs: this.now() });
    return { userId, accessToken, deviceId };
  }
}
