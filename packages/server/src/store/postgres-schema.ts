// Versioned schema migrations of the PostgreSQL store. Append new versions; never edit an applied
// one. `schema_migrations` records what ran. The layout follows the SQLite store's table for
// table (see sqlite-schema.ts for what each counter means), with BIGINT for seqs, event IDs and
// times (ms), BYTEA for protobuf payloads, BOOLEAN for flags, and IDs in the "C" collation so
// that ORDER BY user_id / group_id is byte order, as in SQLite, whatever the database's locale.
import { deliveryIdSql } from "./webhook-rows.js";

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
  {
    // 0.3.0: a send is one round trip. narrowcast_append_message does what appendMessage did in
    // a transaction of ~8 statements, in the same order and with the same locks (the group's row
    // first, the partition's counter row last). The caller serializes the message and its
    // MessageReceived without `seq`; the function appends the seq it allocates as one more field
    // (protobuf merges a message's fields across concatenated encodings: the last `seq` wins,
    // and the `message` of MessageReceived merges into the one before it).
    version: 6,
    sql: `
CREATE FUNCTION narrowcast_varint(v bigint) RETURNS bytea LANGUAGE plpgsql IMMUTABLE STRICT AS $fn$
DECLARE
  out bytea := ''::bytea;
BEGIN
  LOOP
    IF v < 128 THEN
      RETURN out || set_byte('\\x00'::bytea, 0, v::int);
    END IF;
    out := out || set_byte('\\x00'::bytea, 0, ((v & 127) | 128)::int);
    v := v >> 7;
  END LOOP;
END
$fn$;

-- status: ok | duplicate (earlier = the original's payload) | concurrent (a retry with the same
-- key committed meanwhile: nothing was written) | group_not_found. A receiver who is not a
-- current member raises SQLSTATE NC001 with the IDs, comma-separated, as DETAIL.
${appendMessageFunction(false)}
`,
  },
  {
    // 0.4.0, as SQLite's version 6: the events about one message (its MessageEdited, rule EDT-4)
    // are found by its seq, so a recall can rewrite them without reading the group's log.
    version: 7,
    sql: `
CREATE INDEX events_by_target ON events (app_id, group_id, target_seq) WHERE target_seq IS NOT NULL;
`,
  },
  {
    // 0.4.0, as SQLite's version 7: reactions (rules RCT-1 to RCT-8), one row per message,
    // reaction and user. "C" collation: reactions sort in code point order, as in SQLite.
    version: 8,
    sql: `
CREATE TABLE reactions (
  app_id TEXT COLLATE "C" NOT NULL,
  group_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  reaction TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, group_id, seq, reaction, user_id)
);
CREATE INDEX reactions_by_time ON reactions (app_id, group_id, seq, created_at, reaction, user_id);
CREATE INDEX reactions_by_user ON reactions (app_id, user_id);                   -- DeleteUser (ADM-11)
`,
  },
  {
    // 0.4.0, as SQLite's version 8: read receipts (rules RCP-1 to RCP-6), one row per reader.
    version: 9,
    sql: `
CREATE TABLE receipts (
  app_id TEXT COLLATE "C" NOT NULL,
  group_id TEXT COLLATE "C" NOT NULL,
  seq BIGINT NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  read_at BIGINT,
  PRIMARY KEY (app_id, group_id, seq, user_id)
);
CREATE INDEX receipts_by_user ON receipts (app_id, user_id);                     -- DeleteUser (ADM-11)
`,
  },
  {
    // 0.5.0, as SQLite's version 9: app backends (spec section 16): webhook configurations with
    // their event-type bit mask, the durable delivery outbox (HOOK-7, HOOK-9), presence per node.
    // narrowcast_append_message (version 6) is replaced by the same function that also records
    // the message's deliveries, so a send stays one statement (and one round trip).
    version: 10,
    sql: `
CREATE TABLE webhooks (
  app_id TEXT COLLATE "C" PRIMARY KEY,
  config BYTEA NOT NULL,                        -- narrowcast.admin.v1.Webhook, binary, output-only fields unset
  event_mask INTEGER NOT NULL,                  -- bit (1 << WebhookEventType) per listed type
  before_send BOOLEAN NOT NULL,                 -- config has a before_send_url
  secret TEXT NOT NULL,
  previous_secret TEXT,
  previous_secret_expires_at BIGINT
);
-- Rows come and go at the rate of events: room on each page for in-place (HOT) updates.
CREATE TABLE webhook_deliveries (
  app_id TEXT COLLATE "C" NOT NULL,
  delivery_id TEXT COLLATE "C" NOT NULL,
  kind TEXT NOT NULL,                           -- 'event' | 'fanout' | 'push'
  type TEXT NOT NULL,
  part SMALLINT,
  event_id BIGINT,
  user_id TEXT COLLATE "C",
  body TEXT,
  state TEXT NOT NULL,                          -- 'pending' | 'dead'
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at BIGINT NOT NULL,
  locked_until BIGINT,
  last_error TEXT,
  created_at BIGINT NOT NULL,
  last_attempt_at BIGINT,
  url TEXT,
  PRIMARY KEY (app_id, delivery_id)
) WITH (fillfactor = 80);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_dead ON webhook_deliveries (app_id, state, created_at DESC, delivery_id);
CREATE TABLE nodes (
  node_id TEXT COLLATE "C" PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE TABLE presence (
  node_id TEXT COLLATE "C" NOT NULL,
  app_id TEXT COLLATE "C" NOT NULL,
  user_id TEXT COLLATE "C" NOT NULL,
  PRIMARY KEY (node_id, app_id, user_id)
);
CREATE INDEX presence_by_user ON presence (app_id, user_id);

${appendMessageFunction(true)}
`,
  },
];

/**
 * narrowcast_append_message: version 6 creates it, version 10 re-creates it to also record the
 * message's webhook deliveries in the same statement (HOOK-7). One text for both, so they cannot
 * drift apart.
 */
function appendMessageFunction(withDeliveries: boolean): string {
  const deliveries = withDeliveries
    ? `  -- Rule HOOK-7: the message's webhook deliveries commit with it: "message.sent" when the app's
  -- webhook lists MESSAGE_SENT (bit 1 << 1), a "fanout" when it lists PUSH_REQUESTED (1 << 6).
  INSERT INTO webhook_deliveries (app_id, delivery_id, kind, type, part, event_id, state, attempts, next_attempt_at, created_at)
  SELECT p_app, ${deliveryIdSql("p_app", "g.part", "v_pos", "k.kind")}, k.kind, 'message.sent', g.part, v_pos,
         'pending', 0, p_now, p_now
    FROM webhooks w, (VALUES ('event', 2), ('fanout', 64)) AS k(kind, bit)
   WHERE w.app_id = p_app AND (w.event_mask & k.bit) <> 0;
`
    : "";
  return `CREATE ${withDeliveries ? "OR REPLACE " : ""}FUNCTION narrowcast_append_message(
  p_app text, p_group text, p_sender text, p_client_id text, p_dedupe_since bigint,
  p_persist boolean, p_counts boolean, p_targeted boolean, p_audience text[], p_mentions text[],
  p_mention_all boolean, p_eligible_last boolean, p_now bigint, p_message_id text,
  p_message bytea, p_event bytea, p_event_audience smallint)
RETURNS TABLE (status text, seq bigint, part smallint, pos bigint, earlier bytea)
LANGUAGE plpgsql AS $fn$
DECLARE
  g record;
  v_seq bigint := 0;
  v_bcast bigint;
  v_msg bytea := p_message;
  v_patch bytea;
  v_inner bytea;
  v_pos bigint;
  v_missing text[];
BEGIN
  IF p_persist THEN
    -- The group's row first: it orders this send after any other in the group, so the
    -- idempotency check below sees a concurrent retry that committed before it.
    SELECT gr.last_seq, gr.bcast_cum, gr.part INTO g FROM groups gr
     WHERE gr.app_id = p_app AND gr.group_id = p_group AND NOT gr.dismissed FOR UPDATE;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'group_not_found'::text, 0::bigint, 0::smallint, 0::bigint, NULL::bytea;
      RETURN;
    END IF;
  END IF;
  IF p_client_id <> '' AND p_dedupe_since IS NOT NULL THEN
    RETURN QUERY SELECT 'duplicate'::text, 0::bigint, 0::smallint, 0::bigint, s.payload FROM sent_messages s
      WHERE s.app_id = p_app AND s.sender_id = p_sender AND s.group_id = p_group
        AND s.client_message_id = p_client_id AND s.created_at >= p_dedupe_since;
    IF FOUND THEN
      RETURN;
    END IF;
  END IF;
  IF p_persist THEN
    v_seq := g.last_seq + 1;
    v_patch := '\\x10'::bytea || narrowcast_varint(v_seq);   -- Message.seq (field 2, varint)
    v_msg := p_message || v_patch;
  END IF;
  IF p_client_id <> '' THEN
    -- The idempotency record; a record within the window that another transaction committed
    -- meanwhile is kept (the upsert waits for it), and this send is abandoned before any write.
    INSERT INTO sent_messages (app_id, sender_id, group_id, client_message_id, created_at, payload)
    VALUES (p_app, p_sender, p_group, p_client_id, p_now, v_msg)
    ON CONFLICT (app_id, sender_id, group_id, client_message_id)
      DO UPDATE SET created_at = excluded.created_at, payload = excluded.payload
      WHERE p_dedupe_since IS NULL OR sent_messages.created_at < p_dedupe_since;
    IF NOT FOUND THEN
      RETURN QUERY SELECT 'concurrent'::text, 0::bigint, 0::smallint, 0::bigint, NULL::bytea;
      RETURN;
    END IF;
  END IF;
  IF NOT p_persist THEN
    RETURN QUERY SELECT 'ok'::text, 0::bigint, 0::smallint, 0::bigint, NULL::bytea;
    RETURN;
  END IF;

  v_bcast := g.bcast_cum;
  IF NOT p_targeted THEN
    IF p_counts THEN
      v_bcast := v_bcast + 1;
    END IF;
    UPDATE groups SET last_seq = v_seq, last_activity_at = p_now, bcast_cum = v_bcast,
      last_bcast_seq = CASE WHEN p_eligible_last THEN v_seq ELSE last_bcast_seq END,
      last_at_all_seq = CASE WHEN p_mention_all THEN v_seq ELSE last_at_all_seq END
     WHERE app_id = p_app AND group_id = p_group;
    IF cardinality(p_mentions) > 0 THEN
      UPDATE memberships SET last_mention_seq = v_seq
       WHERE app_id = p_app AND group_id = p_group AND user_id = ANY(p_mentions) AND left_event_id IS NULL;
    END IF;
  ELSE
    UPDATE groups SET last_seq = v_seq, last_activity_at = p_now WHERE app_id = p_app AND group_id = p_group;
    -- The audience's counters, checked in the same statement: whoever is not a current member
    -- has no row to update (the sender's own copy is never counted as unread).
    WITH upd AS (
      UPDATE memberships SET
        tgt_cum = tgt_cum + CASE WHEN p_counts AND user_id <> p_sender THEN 1 ELSE 0 END,
        last_tgt_seq = CASE WHEN p_eligible_last THEN v_seq ELSE last_tgt_seq END
       WHERE app_id = p_app AND group_id = p_group AND user_id = ANY(p_audience) AND left_event_id IS NULL
       RETURNING user_id, tgt_cum
    ), ins AS (
      INSERT INTO message_audience (app_id, group_id, user_id, seq, is_sender, tgt_cum, last_eligible)
      SELECT p_app, p_group, upd.user_id, v_seq, upd.user_id = p_sender, upd.tgt_cum, p_eligible_last FROM upd
      RETURNING user_id
    )
    SELECT array_agg(a.id ORDER BY a.n) INTO v_missing FROM unnest(p_audience) WITH ORDINALITY AS a(id, n)
     WHERE a.id NOT IN (SELECT user_id FROM ins);
    IF v_missing IS NOT NULL THEN
      RAISE EXCEPTION 'not current members' USING ERRCODE = 'NC001', DETAIL = array_to_string(v_missing, ',');
    END IF;
  END IF;

  IF p_sender <> '' THEN
    -- Rule UNR-5: sending moves the sender's read position to the new message.
    UPDATE memberships SET read_seq = v_seq, bcast_cum_at_read = v_bcast, tgt_cum_at_read = tgt_cum
     WHERE app_id = p_app AND group_id = p_group AND user_id = p_sender AND left_event_id IS NULL;
  END IF;

  -- The partition's counter row last: it stays locked from here to COMMIT.
  UPDATE partitions SET head = head + 1 WHERE app_id = p_app AND partitions.part = g.part RETURNING head INTO v_pos;
  -- Event.message_received (field 3) { MessageReceived.message (field 1) { seq } }
  v_inner := '\\x0a'::bytea || set_byte('\\x00'::bytea, 0, length(v_patch)) || v_patch;
  INSERT INTO events (app_id, part, event_id, group_id, audience, target_seq, user_id, joined_user_id, created_at, payload)
  VALUES (p_app, g.part, v_pos, p_group, p_event_audience, CASE WHEN p_targeted THEN v_seq END, NULL, NULL, p_now,
          p_event || '\\x1a'::bytea || set_byte('\\x00'::bytea, 0, length(v_inner)) || v_inner);
  INSERT INTO messages (app_id, group_id, seq, message_id, sender_id, targeted, bcast_cum, event_id, created_at, payload)
  VALUES (p_app, p_group, v_seq, p_message_id, p_sender, p_targeted, v_bcast, v_pos, p_now, v_msg);
${deliveries}  RETURN QUERY SELECT 'ok'::text, v_seq, g.part, v_pos, NULL::bytea;
END
$fn$;`;
}
