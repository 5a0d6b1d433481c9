-- Delivery of the programme's domain events to webhooks: the webhooks (each with the secret it signs
-- with, sealed under the registry key), how far each has been delivered, and the events it could not
-- take (dead letters). Events hold no personal data; nothing here does either but the sealed secrets.

-- One row a webhook of one programme (a ledger). ``next_log``/``next_index``: the position of the next
-- event to deliver (every event before it was delivered, filtered out or dead-lettered); ``delivered``
-- counts the events it acknowledged. Removed webhooks keep their row (removed_at) for the record.
CREATE TABLE webhooks (
    webhook_id text PRIMARY KEY CHECK (webhook_id ~ '^wh_[0-9a-f]{16}$'),
    programme text NOT NULL CHECK (programme <> ''),
    url text NOT NULL CHECK (url ~ '^https?://'),
    event_types text[],
    key_id text NOT NULL REFERENCES registry_keys (key_id),
    sealed_secret bytea NOT NULL,
    created_at timestamptz NOT NULL,
    removed_at timestamptz,
    next_log bigint NOT NULL CHECK (next_log >= 0),
    next_index integer NOT NULL CHECK (next_index >= 0),
    delivered bigint NOT NULL DEFAULT 0 CHECK (delivered >= 0),
    updated_at timestamptz NOT NULL
);
CREATE INDEX webhooks_programme ON webhooks (programme) WHERE removed_at IS NULL;

-- An event a webhook did not take: refused (a non-2xx answer or no answer in time) on every attempt, or
-- parked behind such an event of the same member (``parked_behind``: its id; never attempted), so that
-- a member's events never arrive out of order. ``events replay`` clears the rows it redelivers.
CREATE TABLE webhook_dead_letters (
    webhook_id text NOT NULL REFERENCES webhooks (webhook_id),
    event_id text NOT NULL CHECK (event_id ~ '^ev_[0-9a-f]{32}$'),
    log_id bigint NOT NULL,
    event_index integer NOT NULL,
    member text NOT NULL,
    event_type text NOT NULL,
    attempts integer NOT NULL CHECK (attempts >= 0),
    last_error text NOT NULL,
    parked_behind text,
    dead_at timestamptz NOT NULL,
    PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX webhook_dead_letters_position ON webhook_dead_letters (webhook_id, log_id, event_index);
