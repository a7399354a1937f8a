/** The 2015 presence lists: the users whose presence a user asked to follow. */
export interface PresenceListStore {
  /** Adds these users to the owner's list (already listed ones are kept). */
  addToPresenceList(ownerId: string, userIds: readonly string[]): Promise<void>;
  dropFromPresenceList(ownerId: string, userIds: readonly string[]): Promise<void>;
  /** The users on the owner's list, in the order they were added. */
  presenceList(ownerId: string): Promise<string[]>;
}
