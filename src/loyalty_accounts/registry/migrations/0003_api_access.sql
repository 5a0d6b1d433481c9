-- The HTTP API's access: API keys (only a digest of each secret is kept) with their programme and scopes,
-- and the answers to writes by idempotency key, so that a retried request gets the original answer.

-- One row an API key. The key a client holds is ``lk_<key_id>_<secret>``; ``secret_digest`` is SHA-256 of
-- the secret (a random 32 bytes: no dictionary to attack, so no slow hash is needed). ``member`` is the one
-- member a ``member:read`` key may read. Revoked and expired keys keep their row for the record.
CREATE TABLE api_keys (
    key_id text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    programme text NOT NULL CHECK (programme ~ '^[A-Za-z0-9_-]{1,63}$'),
    scopes text[] NOT NULL CHECK (cardinality(scopes) > 0),
    member text,
    label text NOT NULL CHECK (label ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    secret_digest bytea NOT NULL CHECK (octet_length(secret_digest) = 32),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_keys_programme ON api_keys (programme);

-- One row a write by its idempotency key, per programme and API key: the request's digest (method, path,
-- body), the operation and business key it was bound to, and, once answered, the status and body sent.
-- A row still ``in_progress`` after its lease is taken over by the next request with the same key (the
-- ledger's own exactly-once makes running it again safe).
CREATE TABLE api_idempotency (
    programme text NOT NULL,
    key_id text NOT NULL REFERENCES api_keys (key_id),
    idempotency_key text NOT NULL CHECK (idempotency_key ~ '^[A-Za-z0-9._:-]{1,128}$'),
    request_digest bytea NOT NULL CHECK (octet_length(request_digest) = 32),
    operation text NOT NULL,
    business_key text NOT NULL,
    state text NOT NULL CHECK (state IN ('in_progress', 'done')),
    status integer,
    response bytea,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    PRIMARY KEY (programme, key_id, idempotency_key)
);
