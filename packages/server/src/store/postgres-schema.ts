// Versioned schema migrations of the PostgreSQL store. Append new versions; never edit an applied
// one. `schema_migrations` records what ran. The layout follows the SQLite store's table for
// table (see sqlite-schema.ts for what each counter means), with BIGINT for seqs, event IDs and
// times (ms), BYTEA for protobuf payloads, BOOLEAN for flags, and IDs in the "C" collation so
// that ORDER BY user_id / group_id is byte order, as in SQLite, whatever the database's locale.
export const postgresMigrations: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE apps (
  app_id TEXT COLLATE "C" PRIMARY KEY,
  name TEXT NOT NULL,
  edition INTEGER NOT NULL,
  secret TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  event_seq BIGINT NOT NULL DEFAULT 0           -- last event ID of the app's event log
);
CREATE TABLE users (
  app_id TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  nickname TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (app_id, user_id)
);
-- Updated on every stored message: room on each page lets PostgreSQL update in place (HOT).
CREATE TABLE groups (
  app_id TEXT COLLATE "C" NOT NULL,
  group_id TEXT COLLATE "C" NOT NULL,
  type INTEGER NOT NULL,
  name TEXT NOT NULL,
  owner_id TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  member_count INTEGER NOT NULL DEFAULT 0,
  last_seq BIGINT NOT NULL DEFAULT 0,
  last_activity_at BIGINT NOT NULL,
  bcast_cum BIGINT NOT NULL DEFAULT 0,
  last_bcast_seq BIGINT NOT NULL DEFAULT 0,
  last_at_all_seq BIGINT NOT NULL DEFAULT 0,
  dismissed BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (app_id, group_id)
) WITH (fillfactor = 80);
-- One row per membership span; the current one has left_event_id NULL.
CREATE TABLE memberships (
  id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  app_id TEXT COLLATE "C" NOT NULL,
  group_id TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  role INTEGER NOT NULL,
  joined_at BIGINT NOT NULL,
  join_seq BIGINT NOT NULL,
  join_event_id BIGINT NOT NULL,
  left_event_id BIGINT,
  read_seq BIGINT NOT NULL,
  bcast_cum_at_read BIGINT NOT NULL,
  tgt_cum BIGINT NOT NULL DEFAULT 0,
  tgt_cum_at_read BIGINT NOT NULL DEFAULT 0,
  last_tgt_seq BIGINT NOT NULL DEFAULT 0,
  last_mention_seq BIGINT NOT NULL DEFAULT 0
) WITH (fillfactor = 80);
CREATE UNIQUE INDEX memberships_current ON memberships (app_id, group_id, user_id) WHERE left_event_id IS NULL;
CREATE INDEX memberships_by_user ON memberships (app_id, user_id, group_id);
CREATE INDEX memberships_by_group ON memberships (app_id, group_id, user_id);
CREATE TABLE messages (
  app_id TEXT COLLATE "C" NOT NULL,
  group_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  message_id TEXT COLLATE "C" NOT NULL,
  sender_id TEXT COLLATE "C" NOT NULL,
  targeted BOOLEAN NOT NULL,
  bcast_cum BIGINT NOT NULL,
  event_id BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  recalled BOOLEAN NOT NULL DEFAULT false,
  payload BYTEA NOT NULL,
  CONSTRAINT messages_by_seq PRIMARY KEY (app_id, group_id, seq)
);
CREATE UNIQUE INDEX messages_by_id ON messages (app_id, message_id);
CREATE TABLE message_audience (
  app_id TEXT COLLATE "C" NOT NULL,
  group_id TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  is_sender BOOLEAN NOT NULL,
  tgt_cum BIGINT NOT NULL,
  PRIMARY KEY (app_id, group_id, user_id, seq)
);
CREATE TABLE events (
  app_id TEXT COLLATE "C" NOT NULL,
  event_id BIGINT NOT NULL,
  group_id TEXT COLLATE "C" NOT NULL,
  audience SMALLINT NOT NULL,                   -- 0 group, 1 targeted message, 2 one user, 3 history
  target_seq BIGINT,
  user_id TEXT COLLATE "C",
  created_at BIGINT NOT NULL,
  payload BYTEA NOT NULL,
  PRIMARY KEY (app_id, event_id)
);
CREATE TABLE sent_messages (
  app_id TEXT COLLATE "C" NOT NULL,
  sender_id TEXT COLLATE "C" NOT NULL,
  client_message_id TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  payload BYTEA NOT NULL,
  PRIMARY KEY (app_id, sender_id, client_message_id)
);
CREATE TABLE join_requests (
  app_id TEXT COLLATE "C" NOT NULL,
  group_id TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  message TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, group_id, user_id)
);
`,
  },
  {
    // Replay reads a user's groups' events, not the whole app's; history pages read ordinary
    // messages and the viewer's targeted ones by index, never stepping over others' targeted ones.
    version: 2,
    sql: `
CREATE INDEX events_by_group ON events (app_id, group_id, event_id);
CREATE INDEX events_by_user ON events (app_id, user_id, event_id) WHERE user_id IS NOT NULL;
CREATE INDEX messages_ordinary ON messages (app_id, group_id, targeted, seq);
`,
  },
  {
    // Idempotency records older than the 24-hour window are pruned by time.
    version: 3,
    sql: `
CREATE INDEX sent_messages_by_time ON sent_messages (created_at);
`,
  },
  {
    // 0.2.0, as SQLite's version 4: Plan, previous secret, idempotency per (sender, group), the
    // per-app event retention floor, join-request and retention indexes, last-message eligibility
    // of targeted messages.
    version: 4,
    sql: `
ALTER TABLE apps RENAME COLUMN edition TO plan;
ALTER TABLE apps
  ADD COLUMN previous_secret TEXT,
  ADD COLUMN previous_secret_expires_at BIGINT,
  ADD COLUMN event_floor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sent_messages ADD COLUMN group_id TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE sent_messages ALTER COLUMN group_id DROP DEFAULT;
ALTER TABLE sent_messages DROP CONSTRAINT sent_messages_pkey,
  ADD CONSTRAINT sent_messages_pkey PRIMARY KEY (app_id, sender_id, group_id, client_message_id);
CREATE INDEX join_requests_by_time ON join_requests (app_id, group_id, created_at, user_id);
CREATE INDEX join_requests_by_user ON join_requests (app_id, user_id);
CREATE INDEX events_by_time ON events (created_at);
CREATE INDEX memberships_ended ON memberships (app_id, left_event_id) WHERE left_event_id IS NOT NULL;
ALTER TABLE message_audience ADD COLUMN last_eligible BOOLEAN NOT NULL DEFAULT true;
`,
  },
  {
    // 0.3.0, as SQLite's version 5: 16 partitions per app's event log, each with its own counter
    // row and retention floor (positions.ts); the 0.2 log becomes partition 0; events name the
    // user a MemberJoined adds (joined_user_id).
    version: 5,
    sql: `
ALTER TABLE groups ADD COLUMN part SMALLINT NOT NULL DEFAULT 0;
-- Updated by every appended event: room on each page for in-place (HOT) updates.
CREATE TABLE partitions (
  app_id TEXT COLLATE "C" NOT NULL,
  part SMALLINT NOT NULL,
  head BIGINT NOT NULL DEFAULT 0,
  floor BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, part)
) WITH (fillfactor = 50);
INSERT INTO partitions (app_id, part, head, floor)
  SELECT a.app_id, n.part, CASE n.part WHEN 0 THEN a.event_seq ELSE 0 END, CASE n.part WHEN 0 THEN a.event_floor ELSE 0 END
    FROM apps a, generate_series(0, 15) AS n(part);
ALTER TABLE events ADD COLUMN part SMALLINT NOT NULL DEFAULT 0, ADD COLUMN joined_user_id TEXT COLLATE "C";
ALTER TABLE events ALTER COLUMN part DROP DEFAULT;
ALTER TABLE events DROP CONSTRAINT events_pkey, ADD CONSTRAINT events_pkey PRIMARY KEY (app_id, part, event_id);
DROP INDEX events_by_user;
CREATE INDEX events_by_user ON events (app_id, user_id, part, event_id) WHERE user_id IS NOT NULL;
`,
  },
];
