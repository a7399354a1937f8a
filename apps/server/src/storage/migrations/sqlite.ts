export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * SQLite schema history. Never edit a released migration: add a new one. Version 1 already
 * holds what rooms and sync need, so that they can be built on the interface without
 * touching the schema.
 */
export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE users (
  user_id TEXT PRIMARY KEY NOT NULL,
  password_hash TEXT,
  admin INTEGER NOT NULL DEFAULT 0,
  deactivated INTEGER NOT NULL DEFAULT 0,
  created_ts INTEGER NOT NULL,
  displayname TEXT,
  avatar_url TEXT
);

CREATE TABLE access_tokens (
  token_hash TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (user_id),
  device_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);

-- stream_ordering is the global arrival order: all writes go through one connection, so
-- commit order is stream order and a reader never sees a gap close behind it.
CREATE TABLE events (
  stream_ordering INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT,
  sender TEXT NOT NULL,
  content TEXT NOT NULL,
  origin_server_ts INTEGER NOT NULL,
  topological_ordering INTEGER NOT NULL,
  redacts TEXT,
  unsigned TEXT,
  prev_content TEXT,
  replaces_state TEXT,
  txn_token_hash TEXT,
  txn_id TEXT
);
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_topo ON events (room_id, topological_ordering, stream_ordering);

-- Maintained on every state write, never rebuilt by replaying history.
CREATE TABLE current_state (
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (room_id, type, state_key)
);

CREATE TABLE room_memberships (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  membership TEXT NOT NULL,
  event_id TEXT NOT NULL,
  stream_ordering INTEGER NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_memberships_user ON room_memberships (user_id, membership);

CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY NOT NULL,
  creator TEXT NOT NULL,
  is_public INTEGER NOT NULL DEFAULT 0,
  created_ts INTEGER NOT NULL
);

CREATE TABLE room_aliases (
  alias TEXT PRIMARY KEY NOT NULL,
  room_id TEXT NOT NULL,
  creator TEXT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

-- Idempotent PUTs: one event per (access token, txn id).
CREATE TABLE event_txns (
  token_hash TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (token_hash, txn_id)
);

CREATE TABLE redactions (
  event_id TEXT NOT NULL,
  redaction_event_id TEXT NOT NULL,
  PRIMARY KEY (event_id, redaction_event_id)
);
`,
  },
  {
    version: 2,
    name: 'forgotten rooms',
    sql: `
ALTER TABLE room_memberships ADD COLUMN forgotten INTEGER NOT NULL DEFAULT 0;
`,
  },
  {
    version: 3,
    name: 'local media',
    sql: `
-- Uploads to the content repository; the bytes are files under media_store_path.
CREATE TABLE local_media (
  media_id TEXT PRIMARY KEY NOT NULL,
  media_type TEXT NOT NULL,
  upload_name TEXT,
  media_length INTEGER NOT NULL,
  created_ts INTEGER NOT NULL,
  user_id TEXT NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'sync streams: receipts, account data, presence',
    sql: `
-- The latest row per key, stamped with the position of its change in its own stream.
CREATE TABLE receipts (
  room_id TEXT NOT NULL,
  receipt_type TEXT NOT NULL,
  user_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  stream_id INTEGER NOT NULL,
  PRIMARY KEY (room_id, receipt_type, user_id)
);
CREATE INDEX receipts_room_stream ON receipts (room_id, stream_id);

-- room_id is '' for global account data.
CREATE TABLE account_data (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  stream_id INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_user_stream ON account_data (user_id, stream_id);

CREATE TABLE presence (
  user_id TEXT PRIMARY KEY NOT NULL,
  presence TEXT NOT NULL,
  status_msg TEXT,
  last_active_ts INTEGER NOT NULL,
  stream_id INTEGER NOT NULL
);
CREATE INDEX presence_stream ON presence (stream_id);
`,
  },
  {
    version: 5,
    name: 'presence lists',
    sql: `
-- The 2015 presence lists (GET/POST /presence/list/{userId}).
CREATE TABLE presence_list (
  user_id TEXT NOT NULL,
  observed_user_id TEXT NOT NULL,
  added_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, observed_user_id)
);
`,
  },
  {
    version: 6,
    name: 'event txns clustered by key',
    sql: `
-- The table is its primary key (WITHOUT ROWID): one B-tree written per send instead of
-- a rowid table and an index. The key leads with the txn id: clients make theirs from a
-- clock or a counter, so new keys land together at the end of the tree rather than at
-- one place per access token, and a commit of many sends dirties a page or two, not one
-- per sender. Lookups give both columns, so the order costs them nothing.
CREATE TABLE event_txns_by_key (
  token_hash TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (txn_id, token_hash)
) WITHOUT ROWID;
INSERT INTO event_txns_by_key (token_hash, txn_id, event_id, created_ts)
  SELECT token_hash, txn_id, event_id, created_ts FROM event_txns;
DROP TABLE event_txns;
ALTER TABLE event_txns_by_key RENAME TO event_txns;
`,
  },
  {
    version: 7,
    name: 'token revocation notices',
    // PostgreSQL's twin adds triggers that announce revocations to every process; SQLite
    // sees other connections' commits through PRAGMA data_version instead.
    sql: 'SELECT 1;',
  },
  {
    version: 8,
    name: 'one-round-trip appends',
    // PostgreSQL's twin adds the function that writes a batch in one call; SQLite is in
    // the process already.
    sql: 'SELECT 1;',
  },
  {
    version: 9,
    name: 'room depths kept, txn ids on their events',
    // PostgreSQL's twin keeps each room's depth in a row for its one-call appends, and
    // finds txnIds through a unique index on events instead of event_txns, whose insert
    // was a sixth of that call; SQLite reads the depth in the process, and its event_txns
    // insert costs little.
    sql: 'SELECT 1;',
  },
  {
    version: 10,
    name: 'one-call appends planned for any size',
    // PostgreSQL's twin pins the plans of its one-call append; SQLite has no such function.
    sql: 'SELECT 1;',
  },
  {
    version: 11,
    name: 'appends announced in the call that commits them',
    // PostgreSQL's twin sends the replication notice from its one-call append; SQLite
    // serves one process.
    sql: 'SELECT 1;',
  },
  {
    version: 12,
    name: 'state history by type and key',
    // A user's membership events in a room, and the room's history_visibility changes,
    // read to judge what the user may see (GET /events/{eventId}, /messages, initialSync
    // when a room's latest events came before the user joined), were found through
    // (room_id, stream_ordering): every event of the room up to that point was read, so the
    // cost grew with the room's size. This index holds state events only (messages have no
    // state key), so sending a message writes nothing more. The state of a room at a
    // position (getStateAt, for rooms a user left) reads it too, in place of every event.
    sql: `
CREATE INDEX IF NOT EXISTS events_room_state ON events (room_id, type, state_key, stream_ordering) WHERE state_key IS NOT NULL;
`,
  },
];
