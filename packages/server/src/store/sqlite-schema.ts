// Versioned schema migrations of the embedded SQLite store. Append new versions; never edit an
// applied one. `schema_migrations` records what ran.
export const sqliteMigrations: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE apps (
  app_id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  edition INTEGER NOT NULL,
  secret TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  event_seq INTEGER NOT NULL DEFAULT 0          -- last event ID of the app's event log
);
CREATE TABLE users (
  app_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  nickname TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (app_id, user_id)
) WITHOUT ROWID;
CREATE TABLE groups (
  app_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  type INTEGER NOT NULL,
  name TEXT NOT NULL,
  owner_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  member_count INTEGER NOT NULL DEFAULT 0,
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_activity_at INTEGER NOT NULL,
  bcast_cum INTEGER NOT NULL DEFAULT 0,          -- ordinary messages counted as unread, so far
  last_bcast_seq INTEGER NOT NULL DEFAULT 0,     -- latest ordinary message eligible as last message
  last_at_all_seq INTEGER NOT NULL DEFAULT 0,    -- latest @all message
  dismissed INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (app_id, group_id)
) WITHOUT ROWID;
-- One row per membership span; the current one has left_event_id NULL. Spans let the event log
-- be replayed with the audience each event had when it happened.
CREATE TABLE memberships (
  id INTEGER PRIMARY KEY,
  app_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  role INTEGER NOT NULL,
  joined_at INTEGER NOT NULL,
  join_seq INTEGER NOT NULL,
  join_event_id INTEGER NOT NULL,
  left_event_id INTEGER,
  read_seq INTEGER NOT NULL,
  bcast_cum_at_read INTEGER NOT NULL,            -- groups.bcast_cum as of read_seq
  tgt_cum INTEGER NOT NULL DEFAULT 0,            -- counted targeted messages received, so far
  tgt_cum_at_read INTEGER NOT NULL DEFAULT 0,    -- tgt_cum as of read_seq
  last_tgt_seq INTEGER NOT NULL DEFAULT 0,       -- latest targeted message eligible as last message
  last_mention_seq INTEGER NOT NULL DEFAULT 0    -- latest message @-mentioning this member
);
CREATE UNIQUE INDEX memberships_current ON memberships (app_id, group_id, user_id) WHERE left_event_id IS NULL;
CREATE INDEX memberships_by_user ON memberships (app_id, user_id, group_id);
CREATE INDEX memberships_by_group ON memberships (app_id, group_id, user_id);
CREATE TABLE messages (
  app_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  targeted INTEGER NOT NULL,
  bcast_cum INTEGER NOT NULL,                    -- groups.bcast_cum just after this message
  event_id INTEGER NOT NULL,                     -- its MessageReceived event
  created_at INTEGER NOT NULL,
  recalled INTEGER NOT NULL DEFAULT 0,
  payload BLOB NOT NULL                          -- narrowcast.v1.Message, binary
);
CREATE UNIQUE INDEX messages_by_seq ON messages (app_id, group_id, seq);
CREATE UNIQUE INDEX messages_by_id ON messages (app_id, message_id);
-- The audience of targeted messages only (receivers and sender): O(receivers) rows each.
CREATE TABLE message_audience (
  app_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  is_sender INTEGER NOT NULL,
  tgt_cum INTEGER NOT NULL,                      -- the receiver's memberships.tgt_cum after it
  PRIMARY KEY (app_id, group_id, user_id, seq)
) WITHOUT ROWID;
CREATE TABLE events (
  app_id TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  group_id TEXT NOT NULL,
  audience INTEGER NOT NULL,                     -- 0 group, 1 targeted message (see target_seq), 2 one user
  target_seq INTEGER,
  user_id TEXT,
  created_at INTEGER NOT NULL,
  payload BLOB NOT NULL,                         -- narrowcast.v1.Event, binary, cursor set
  PRIMARY KEY (app_id, event_id)
);
CREATE TABLE sent_messages (
  app_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  client_message_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (app_id, sender_id, client_message_id)
) WITHOUT ROWID;
CREATE TABLE join_requests (
  app_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  message TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (app_id, group_id, user_id)
) WITHOUT ROWID;
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
    // 0.2.0: Edition became Plan; secret rotation keeps the previous secret for a grace period
    // (rule ADM-9); idempotency keys are scoped to (sender, group) (rule MSG-10: records from
    // before carry no group and lapse with the window); event retention keeps a floor per app
    // (rule EVT-10); join requests page by (created_at, user_id) and go with a deleted user
    // (ADM-11); a targeted message remembers whether it may be a last message, so a MEETING
    // re-join can find the member's last one (rule EVT-2 / VIS).
    // events.audience gains 4, TARGETED_ALL (the codes are in visibility.ts).
    version: 4,
    sql: `
ALTER TABLE apps RENAME COLUMN edition TO plan;
ALTER TABLE apps ADD COLUMN previous_secret TEXT;
ALTER TABLE apps ADD COLUMN previous_secret_expires_at INTEGER;
ALTER TABLE apps ADD COLUMN event_floor INTEGER NOT NULL DEFAULT 0;   -- highest pruned event ID
CREATE TABLE sent_messages_v4 (
  app_id TEXT NOT NULL,
  sender_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  client_message_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (app_id, sender_id, group_id, client_message_id)
) WITHOUT ROWID;
INSERT INTO sent_messages_v4 (app_id, sender_id, group_id, client_message_id, created_at, payload)
  SELECT app_id, sender_id, '', client_message_id, created_at, payload FROM sent_messages;
DROP TABLE sent_messages;
ALTER TABLE sent_messages_v4 RENAME TO sent_messages;
CREATE INDEX sent_messages_by_time ON sent_messages (created_at);
CREATE INDEX join_requests_by_time ON join_requests (app_id, group_id, created_at, user_id);
CREATE INDEX join_requests_by_user ON join_requests (app_id, user_id);
CREATE INDEX events_by_time ON events (created_at);
CREATE INDEX memberships_ended ON memberships (app_id, left_event_id) WHERE left_event_id IS NOT NULL;
ALTER TABLE message_audience ADD COLUMN last_eligible INTEGER NOT NULL DEFAULT 1;
`,
  },
  {
    // 0.3.0: the app's event log is split into 16 partitions (positions.ts), each with its own
    // counter row (head) and retention floor, so no row is shared by all of an app's writers.
    // A group's events go to the group's partition (groups.part); events.event_id, and the
    // memberships' and messages' event IDs, are positions within it. The 0.2 log becomes
    // partition 0 with its IDs as positions (so its cursors still parse, cursor.ts); groups made
    // before stay there. apps.event_seq and apps.event_floor are no longer used.
    // events.joined_user_id names the user a MemberJoined adds, so a node can tell from a range
    // read without the payloads whether one of its users joined a group it does not follow.
    version: 5,
    sql: `
ALTER TABLE groups ADD COLUMN part INTEGER NOT NULL DEFAULT 0;
CREATE TABLE partitions (
  app_id TEXT NOT NULL,
  part INTEGER NOT NULL,
  head INTEGER NOT NULL DEFAULT 0,               -- last position of the partition
  floor INTEGER NOT NULL DEFAULT 0,              -- highest pruned position
  PRIMARY KEY (app_id, part)
) WITHOUT ROWID;
INSERT INTO partitions (app_id, part, head, floor)
  SELECT a.app_id, n.part, CASE n.part WHEN 0 THEN a.event_seq ELSE 0 END, CASE n.part WHEN 0 THEN a.event_floor ELSE 0 END
    FROM apps a, (WITH RECURSIVE n(part) AS (SELECT 0 UNION ALL SELECT part + 1 FROM n WHERE part < 15) SELECT part FROM n) n;
CREATE TABLE events_v5 (
  app_id TEXT NOT NULL,
  part INTEGER NOT NULL,
  event_id INTEGER NOT NULL,                     -- position in the partition
  group_id TEXT NOT NULL,
  audience INTEGER NOT NULL,
  target_seq INTEGER,
  user_id TEXT,
  joined_user_id TEXT,                           -- the user a MemberJoined adds (interest routing)
  created_at INTEGER NOT NULL,
  payload BLOB NOT NULL,                         -- narrowcast.v1.Event, binary, cursor empty
  PRIMARY KEY (app_id, part, event_id)
);
INSERT INTO events_v5 (app_id, part, event_id, group_id, audience, target_seq, user_id, created_at, payload)
  SELECT app_id, 0, event_id, group_id, audience, target_seq, user_id, created_at, payload FROM events;
DROP TABLE events;
ALTER TABLE events_v5 RENAME TO events;
CREATE INDEX events_by_group ON events (app_id, group_id, event_id);
CREATE INDEX events_by_user ON events (app_id, user_id, part, event_id) WHERE user_id IS NOT NULL;
CREATE INDEX events_by_time ON events (created_at);
`,
  },
  {
    // 0.4.0: the events about one message (its MessageEdited, rule EDT-4) are found by its seq,
    // so a recall can rewrite them without reading the group's log.
    version: 6,
    sql: `
CREATE INDEX events_by_target ON events (app_id, group_id, target_seq) WHERE target_seq IS NOT NULL;
`,
  },
  {
    // 0.4.0: reactions (rules RCT-1 to RCT-8), one row per message, reaction and user. BINARY
    // collation: reactions sort in code point order (rules/reactions.ts compareCodePoints).
    version: 7,
    sql: `
CREATE TABLE reactions (
  app_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  seq INTEGER NOT NULL,                          -- the message's
  reaction TEXT NOT NULL,
  user_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (app_id, group_id, seq, reaction, user_id)
) WITHOUT ROWID;
CREATE INDEX reactions_by_time ON reactions (app_id, group_id, seq, created_at, reaction, user_id);
CREATE INDEX reactions_by_user ON reactions (app_id, user_id);                   -- DeleteUser (ADM-11)
`,
  },
  {
    // 0.4.0: read receipts (rules RCP-1 to RCP-6), one row per reader of a message that asked.
    version: 8,
    sql: `
CREATE TABLE receipts (
  app_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  seq INTEGER NOT NULL,                          -- the message's
  user_id TEXT NOT NULL,                         -- a reader (RCP-2)
  read_at INTEGER,                               -- when they acknowledged it; NULL until then
  PRIMARY KEY (app_id, group_id, seq, user_id)
) WITHOUT ROWID;
CREATE INDEX receipts_by_user ON receipts (app_id, user_id);                     -- DeleteUser (ADM-11)
`,
  },
  {
    // 0.5.0: app backends (spec section 16). `webhooks` holds an app's configuration (binary
    // narrowcast.admin.v1.Webhook, without its output-only fields) and `event_mask`, bit
    // (1 << WebhookEventType) per listed type, so an append tests "does the app want this" in SQL.
    // `webhook_deliveries` is the durable outbox (HOOK-7): pending deliveries and dead letters
    // (HOOK-9); an "event" or "fanout" row names its logged event by (part, event_id), and its
    // body is built at the first attempt. `presence`: which node has an open stream of which
    // user, valid while the node's row in `nodes` has not expired (push requests, HOOK-13).
    version: 9,
    sql: `
CREATE TABLE webhooks (
  app_id TEXT PRIMARY KEY,
  config BLOB NOT NULL,
  event_mask INTEGER NOT NULL,
  before_send INTEGER NOT NULL,                  -- 1 when config has a before_send_url
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_expires_at INTEGER
) WITHOUT ROWID;
CREATE TABLE webhook_deliveries (
  app_id TEXT NOT NULL,
  delivery_id TEXT NOT NULL,
  kind TEXT NOT NULL,                            -- 'event' | 'fanout' | 'push'
  type TEXT NOT NULL,                            -- the WebhookEvent type, e.g. 'message.sent'
  part INTEGER,                                  -- event and fanout: the logged event
  event_id INTEGER,
  user_id TEXT,                                  -- push: the user to notify
  body TEXT,
  state TEXT NOT NULL,                           -- 'pending' | 'dead'
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  locked_until INTEGER,
  last_error TEXT,
  created_at INTEGER NOT NULL,
  last_attempt_at INTEGER,
  url TEXT,                                      -- dead letters: where the last attempt went
  PRIMARY KEY (app_id, delivery_id)
) WITHOUT ROWID;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries (app_id, state, created_at DESC, delivery_id);
CREATE TABLE nodes (
  node_id TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE presence (
  node_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (node_id, app_id, user_id)
) WITHOUT ROWID;
CREATE INDEX presence_by_user ON presence (app_id, user_id);
`,
  },
];
