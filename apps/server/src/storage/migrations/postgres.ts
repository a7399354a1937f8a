import type { Migration } from './sqlite.js';

/**
 * PostgreSQL schema history: the same versions, tables and columns as migrations/sqlite.ts
 * (a test checks the version lists match), written in PostgreSQL's types. Never edit a
 * released migration: add a new one, with the same version number as its SQLite twin.
 *
 * Differences that keep behaviour identical:
 * - INTEGER (64-bit in SQLite) is BIGINT; 0/1 flags are BOOLEAN; JSON stays TEXT so that
 *   what is stored is byte for byte what was written, as in SQLite.
 * - events.stream_ordering has no sequence: the writer allocates max + 1 while holding the
 *   global event-stream lock (see postgres/pg-events.ts and docs/scaling.md).
 * - room_state_versions: a per-room counter bumped by every state change and redaction,
 *   so that each process can tell whether its cached copy of a room's state is current.
 * - Text that is sorted is sorted with COLLATE "C" in the queries (bytewise, like SQLite).
 * - Since version 9 a txnId is found through a unique index on events' own columns, where
 *   SQLite has the table event_txns.
 */
export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
CREATE TABLE users (
  user_id TEXT PRIMARY KEY NOT NULL,
  password_hash TEXT,
  admin BOOLEAN NOT NULL DEFAULT FALSE,
  deactivated BOOLEAN NOT NULL DEFAULT FALSE,
  created_ts BIGINT NOT NULL,
  displayname TEXT,
  avatar_url TEXT
);

CREATE TABLE access_tokens (
  token_hash TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL REFERENCES users (user_id),
  device_id TEXT NOT NULL,
  created_ts BIGINT NOT NULL
);
CREATE INDEX access_tokens_user ON access_tokens (user_id);

CREATE TABLE events (
  stream_ordering BIGINT PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT,
  sender TEXT NOT NULL,
  content TEXT NOT NULL,
  origin_server_ts BIGINT NOT NULL,
  topological_ordering BIGINT NOT NULL,
  redacts TEXT,
  unsigned TEXT,
  prev_content TEXT,
  replaces_state TEXT,
  txn_token_hash TEXT,
  txn_id TEXT
);
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_topo ON events (room_id, topological_ordering, stream_ordering);
CREATE INDEX events_replaces_state ON events (replaces_state) WHERE replaces_state IS NOT NULL;

CREATE TABLE current_state (
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  PRIMARY KEY (room_id, type, state_key)
);

CREATE TABLE room_state_versions (
  room_id TEXT PRIMARY KEY NOT NULL,
  version BIGINT NOT NULL
);

CREATE TABLE room_memberships (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  membership TEXT NOT NULL,
  event_id TEXT NOT NULL,
  stream_ordering BIGINT NOT NULL,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_memberships_user ON room_memberships (user_id, membership);

CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY NOT NULL,
  creator TEXT NOT NULL,
  is_public BOOLEAN NOT NULL DEFAULT FALSE,
  created_ts BIGINT NOT NULL
);

CREATE TABLE room_aliases (
  alias TEXT PRIMARY KEY NOT NULL,
  room_id TEXT NOT NULL,
  creator TEXT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);

CREATE TABLE event_txns (
  token_hash TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  created_ts BIGINT NOT NULL,
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
ALTER TABLE room_memberships ADD COLUMN forgotten BOOLEAN NOT NULL DEFAULT FALSE;
`,
  },
  {
    version: 3,
    name: 'local media',
    sql: `
CREATE TABLE local_media (
  media_id TEXT PRIMARY KEY NOT NULL,
  media_type TEXT NOT NULL,
  upload_name TEXT,
  media_length BIGINT NOT NULL,
  created_ts BIGINT NOT NULL,
  user_id TEXT NOT NULL
);
`,
  },
  {
    version: 4,
    name: 'sync streams: receipts, account data, presence',
    sql: `
CREATE TABLE receipts (
  room_id TEXT NOT NULL,
  receipt_type TEXT NOT NULL,
  user_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  ts BIGINT NOT NULL,
  stream_id BIGINT NOT NULL,
  PRIMARY KEY (room_id, receipt_type, user_id)
);
CREATE INDEX receipts_room_stream ON receipts (room_id, stream_id);
CREATE INDEX receipts_stream ON receipts (stream_id);

-- room_id is '' for global account data.
CREATE TABLE account_data (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  stream_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_user_stream ON account_data (user_id, stream_id);
CREATE INDEX account_data_stream ON account_data (stream_id);

CREATE TABLE presence (
  user_id TEXT PRIMARY KEY NOT NULL,
  presence TEXT NOT NULL,
  status_msg TEXT,
  last_active_ts BIGINT NOT NULL,
  stream_id BIGINT NOT NULL
);
CREATE INDEX presence_stream ON presence (stream_id);
`,
  },
  {
    version: 5,
    name: 'presence lists',
    sql: `
-- seq stands in for SQLite's rowid: the order rows were added in.
CREATE TABLE presence_list (
  user_id TEXT NOT NULL,
  observed_user_id TEXT NOT NULL,
  added_ts BIGINT NOT NULL,
  seq BIGSERIAL NOT NULL,
  PRIMARY KEY (user_id, observed_user_id)
);
`,
  },
  {
    version: 6,
    name: 'event txns clustered by key',
    // SQLite's twin rebuilds event_txns WITHOUT ROWID; a PostgreSQL table is a heap with
    // its primary key index either way, so there is nothing to change here.
    sql: 'SELECT 1;',
  },
  {
    version: 7,
    name: 'token revocation notices',
    // Every process keeps the tokens it has checked in memory (TokenRevocations). Whatever
    // may end a token, from any process, the admin CLI or psql, announces it on the
    // channel they listen on; the statement-level triggers fire once per statement, and
    // only on these rare writes.
    sql: `
CREATE FUNCTION axon_notify_token_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('axon_token_revoked', '');
  RETURN NULL;
END $$;
CREATE TRIGGER access_tokens_revoked AFTER DELETE OR UPDATE OR TRUNCATE ON access_tokens
  FOR EACH STATEMENT EXECUTE FUNCTION axon_notify_token_revoked();
CREATE TRIGGER users_deactivated AFTER UPDATE OF deactivated OR DELETE OR TRUNCATE ON users
  FOR EACH STATEMENT EXECUTE FUNCTION axon_notify_token_revoked();
`,
  },
  {
    version: 8,
    name: 'one-round-trip appends',
    // The usual batch of appends (PgEventStore.runOneRoundTrip) in one call: the server
    // planned it against its cached room state with positions from 0; under the events
    // stream lock, this checks that no room's state version moved since, numbers the rows
    // from the stream's and each room's head, and writes them. PL/pgSQL keeps the plans of
    // these statements, so a batch costs little planning. Any error leaves nothing behind
    // (the call is its own transaction), and the server then takes the locked path.
    // The rooms' depths are read by EXECUTE, planned on each call: a kept plan is made
    // once per connection, often while events is still small, and one made then read
    // every event of the room through (room_id, stream_ordering) for its depth, slower
    // with every batch (the bench's throughput fell by half in 40 s).
    sql: `
CREATE FUNCTION axon_append_batch(batch jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  base BIGINT;
  depths jsonb;
BEGIN
  PERFORM pg_advisory_xact_lock(1);
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch->'rooms') r
      LEFT JOIN room_state_versions v ON v.room_id = r->>0
      WHERE coalesce(v.version, 0) <> (r->>1)::bigint) THEN
    RAISE EXCEPTION 'room state changed since it was read' USING ERRCODE = 'AXST1';
  END IF;
  SELECT coalesce(max(stream_ordering), 0) INTO base FROM events;
  EXECUTE 'SELECT jsonb_object_agg(r->>0, coalesce((SELECT max(topological_ordering) FROM events e WHERE e.room_id = r->>0), 0))
    FROM jsonb_array_elements($1->''rooms'') r' INTO depths USING batch;
  INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, content, origin_server_ts,
      topological_ordering, redacts, unsigned, prev_content, replaces_state, txn_token_hash, txn_id)
    SELECT base + (x->>0)::bigint, x->>1, x->>2, x->>3, x->>4, x->>5, x->>6, (x->>7)::bigint,
      (depths->>(x->>2))::bigint + (x->>8)::bigint, x->>9, x->>10, x->>11, x->>12, x->>13, x->>14
    FROM jsonb_array_elements(batch->'events') x;
  INSERT INTO current_state (room_id, type, state_key, event_id)
    SELECT x->>0, x->>1, x->>2, x->>3 FROM jsonb_array_elements(batch->'state') x
    ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id;
  INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering, forgotten)
    SELECT x->>0, x->>1, x->>2, x->>3, base + (x->>4)::bigint, FALSE FROM jsonb_array_elements(batch->'members') x
    ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
      stream_ordering = excluded.stream_ordering, forgotten = FALSE;
  INSERT INTO event_txns (token_hash, txn_id, event_id, created_ts)
    SELECT x->>0, x->>1, x->>2, (x->>3)::bigint FROM jsonb_array_elements(batch->'txns') x;
  INSERT INTO room_state_versions (room_id, version)
    SELECT r->>0, 1 FROM jsonb_array_elements(batch->'rooms') r WHERE (r->>2)::boolean
    ON CONFLICT (room_id) DO UPDATE SET version = room_state_versions.version + 1;
  RETURN jsonb_build_object('s', base, 'd', depths);
END $$;
`,
  },
  {
    version: 9,
    name: 'room depths kept, txn ids on their events',
    // Each room's depth (its highest topological_ordering) in a row of its own, moved on
    // by every append, so that axon_append_batch need not look it up in events. That
    // lookup, planned on each call (see version 8), was a third of the function's time.
    // The upsert finds each room's row through the primary key as its conflict arbiter,
    // which no plan can turn into a scan. The locked path (runLockedBatch) reads the
    // depth from events and writes the row too; a room has a row once it has an event.
    //
    // A sent event's (token hash, txnId) was stored twice: in its own events columns and
    // in event_txns, whose insert was a sixth of the function's time. A unique index on
    // the events columns now does event_txns' work: it finds a retry's event, and a
    // second append of one txnId fails on it (23505), as it failed on event_txns' key.
    // Every row of event_txns names the event whose columns hold the same pair (only a
    // send carries a txnId, and it appends one event), so nothing is lost in dropping it.
    // SQLite keeps its event_txns (version 6): its insert costs little in the process.
    //
    // The function also skips the statements whose arrays are empty (most batches carry
    // no state), each of which cost an executor start. The backfill takes the events
    // stream lock, so no append lands between it and commit.
    sql: `
SELECT pg_advisory_xact_lock(1);
CREATE TABLE room_depths (
  room_id TEXT PRIMARY KEY NOT NULL,
  depth BIGINT NOT NULL
);
INSERT INTO room_depths (room_id, depth) SELECT room_id, max(topological_ordering) FROM events GROUP BY room_id;
CREATE UNIQUE INDEX events_txn ON events (txn_token_hash, txn_id) WHERE txn_id IS NOT NULL;
DROP TABLE event_txns;
CREATE OR REPLACE FUNCTION axon_append_batch(batch jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
  base BIGINT;
  depths jsonb;
BEGIN
  PERFORM pg_advisory_xact_lock(1);
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch->'rooms') r
      LEFT JOIN room_state_versions v ON v.room_id = r->>0
      WHERE coalesce(v.version, 0) <> (r->>1)::bigint) THEN
    RAISE EXCEPTION 'room state changed since it was read' USING ERRCODE = 'AXST1';
  END IF;
  SELECT coalesce(max(stream_ordering), 0) INTO base FROM events;
  -- each room's depth before this batch: its row moved on by the batch's highest offset
  WITH n AS (SELECT x->>2 AS room_id, max((x->>8)::bigint) AS n FROM jsonb_array_elements(batch->'events') x GROUP BY 1),
    moved AS (INSERT INTO room_depths AS h (room_id, depth) SELECT room_id, n FROM n
      ON CONFLICT (room_id) DO UPDATE SET depth = h.depth + excluded.depth RETURNING h.room_id, h.depth)
  SELECT coalesce(jsonb_object_agg(moved.room_id, moved.depth - n.n), '{}') INTO depths FROM moved JOIN n USING (room_id);
  INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, content, origin_server_ts,
      topological_ordering, redacts, unsigned, prev_content, replaces_state, txn_token_hash, txn_id)
    SELECT base + (x->>0)::bigint, x->>1, x->>2, x->>3, x->>4, x->>5, x->>6, (x->>7)::bigint,
      (depths->>(x->>2))::bigint + (x->>8)::bigint, x->>9, x->>10, x->>11, x->>12, x->>13, x->>14
    FROM jsonb_array_elements(batch->'events') x;
  IF jsonb_array_length(batch->'state') > 0 THEN
    INSERT INTO current_state (room_id, type, state_key, event_id)
      SELECT x->>0, x->>1, x->>2, x->>3 FROM jsonb_array_elements(batch->'state') x
      ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id;
  END IF;
  IF jsonb_array_length(batch->'members') > 0 THEN
    INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering, forgotten)
      SELECT x->>0, x->>1, x->>2, x->>3, base + (x->>4)::bigint, FALSE FROM jsonb_array_elements(batch->'members') x
      ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
        stream_ordering = excluded.stream_ordering, forgotten = FALSE;
  END IF;
  INSERT INTO room_state_versions (room_id, version)
    SELECT r->>0, 1 FROM jsonb_array_elements(batch->'rooms') r WHERE (r->>2)::boolean
    ON CONFLICT (room_id) DO UPDATE SET version = room_state_versions.version + 1;
  RETURN jsonb_build_object('s', base, 'd', depths);
END $$;
`,
  },
  {
    version: 10,
    name: 'one-call appends planned for any size',
    // axon_append_batch's statements keep their plans for as long as the connection
    // lives, made from the statistics of that moment, and autovacuum takes the first
    // ones while the tables are small. Planned on a small events table, the stream's head
    // (max(stream_ordering)) was read by scanning all of events, and the state-version
    // check hashed all of room_state_versions: each batch slower than the one before
    // (1.1 ms a call became 17 ms over 4,000 calls in a test). Inside this function every
    // read is a lookup of a few keys, so it plans with index scans and nested loops only.
    sql: `
ALTER FUNCTION axon_append_batch(jsonb) SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
`,
  },
  {
    version: 11,
    name: 'appends announced in the call that commits them',
    // With several processes on the database, each batch of sends was announced by a
    // NOTIFY of its own: a second statement, on a second connection, waking a second
    // backend, after the batch's call. It was a seventh of a process's time with three
    // processes. A batch that carries 'notify' now sends its notice from inside the
    // function, with the positions the function gave its events; PostgreSQL delivers it
    // at commit (with synchronous_commit on, once the commit is flushed), as it did the
    // separate one. The settings of version 10 are restated: CREATE OR REPLACE drops what
    // it does not name.
    sql: `
CREATE OR REPLACE FUNCTION axon_append_batch(batch jsonb) RETURNS jsonb LANGUAGE plpgsql
  SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off AS $$
DECLARE
  base BIGINT;
  depths jsonb;
BEGIN
  PERFORM pg_advisory_xact_lock(1);
  IF EXISTS (SELECT 1 FROM jsonb_array_elements(batch->'rooms') r
      LEFT JOIN room_state_versions v ON v.room_id = r->>0
      WHERE coalesce(v.version, 0) <> (r->>1)::bigint) THEN
    RAISE EXCEPTION 'room state changed since it was read' USING ERRCODE = 'AXST1';
  END IF;
  SELECT coalesce(max(stream_ordering), 0) INTO base FROM events;
  -- each room's depth before this batch: its row moved on by the batch's highest offset
  WITH n AS (SELECT x->>2 AS room_id, max((x->>8)::bigint) AS n FROM jsonb_array_elements(batch->'events') x GROUP BY 1),
    moved AS (INSERT INTO room_depths AS h (room_id, depth) SELECT room_id, n FROM n
      ON CONFLICT (room_id) DO UPDATE SET depth = h.depth + excluded.depth RETURNING h.room_id, h.depth)
  SELECT coalesce(jsonb_object_agg(moved.room_id, moved.depth - n.n), '{}') INTO depths FROM moved JOIN n USING (room_id);
  INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender, content, origin_server_ts,
      topological_ordering, redacts, unsigned, prev_content, replaces_state, txn_token_hash, txn_id)
    SELECT base + (x->>0)::bigint, x->>1, x->>2, x->>3, x->>4, x->>5, x->>6, (x->>7)::bigint,
      (depths->>(x->>2))::bigint + (x->>8)::bigint, x->>9, x->>10, x->>11, x->>12, x->>13, x->>14
    FROM jsonb_array_elements(batch->'events') x;
  IF jsonb_array_length(batch->'state') > 0 THEN
    INSERT INTO current_state (room_id, type, state_key, event_id)
      SELECT x->>0, x->>1, x->>2, x->>3 FROM jsonb_array_elements(batch->'state') x
      ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id;
  END IF;
  IF jsonb_array_length(batch->'members') > 0 THEN
    INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_ordering, forgotten)
      SELECT x->>0, x->>1, x->>2, x->>3, base + (x->>4)::bigint, FALSE FROM jsonb_array_elements(batch->'members') x
      ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id,
        stream_ordering = excluded.stream_ordering, forgotten = FALSE;
  END IF;
  INSERT INTO room_state_versions (room_id, version)
    SELECT r->>0, 1 FROM jsonb_array_elements(batch->'rooms') r WHERE (r->>2)::boolean
    ON CONFLICT (room_id) DO UPDATE SET version = room_state_versions.version + 1;
  -- the replication notice, sent (as every NOTIFY) once the commit is durable
  IF batch ? 'notify' THEN
    PERFORM pg_notify(batch->'notify'->>'channel', (batch->'notify'->>'prefix') || jsonb_build_array(jsonb_build_object(
      't', 'events', 'pos', base + (batch->'notify'->>'last')::bigint,
      'evs', (SELECT coalesce(jsonb_agg(jsonb_build_array(base + (e->>0)::bigint, e->>1)), '[]'::jsonb)
        FROM jsonb_array_elements(batch->'notify'->'evs') e)))::text);
  END IF;
  RETURN jsonb_build_object('s', base, 'd', depths);
END $$;
`,
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
