-- The member registry: members (an opaque id each), their data keys wrapped by the registry key, their
-- profiles sealed with those keys, keyed digests of the values a scan for personal data looks for, and
-- the audit of erasures and exports. Nothing here is readable without the registry key but the ids,
-- the instants and the audit's codes.

-- Every registry key (by its id, a digest of the key: never the key) that has wrapped a data key here.
-- A key that is not among them does not open this registry, and is refused before anything is written.
CREATE TABLE registry_keys (
    key_id text PRIMARY KEY CHECK (key_id ~ '^[0-9a-f]{16}$'),
    first_used_at timestamptz NOT NULL
);

-- One row a member, kept after an erasure (forgotten_at set) so that the id is never given again and
-- the ledger's customer keeps a name: its pseudonym.
CREATE TABLE members (
    member_id text PRIMARY KEY CHECK (member_id ~ '^m_[A-Za-z0-9_-]{22}$'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    forgotten_at timestamptz
);

-- The member's data key (AES-256), sealed with the registry key (AES-256-GCM, bound to the member id).
-- Erasure deletes the row. STATISTICS 0: ANALYZE never copies a value into pg_statistic.
CREATE TABLE member_keys (
    member_id text PRIMARY KEY REFERENCES members (member_id),
    key_id text NOT NULL REFERENCES registry_keys (key_id),
    wrapped_key bytea NOT NULL
);
ALTER TABLE member_keys ALTER COLUMN wrapped_key SET STATISTICS 0;
ALTER TABLE member_keys ALTER COLUMN wrapped_key SET STORAGE PLAIN;

-- The profile (name, email, phone, country, consents as JSON), sealed with the member's data key
-- (AES-256-GCM, bound to the member id). Erasure deletes the row. PLAIN storage: the bytes stay in the
-- table's own file, never in a TOAST table.
CREATE TABLE member_profiles (
    member_id text PRIMARY KEY REFERENCES member_keys (member_id),
    sealed_profile bytea NOT NULL
);
ALTER TABLE member_profiles ALTER COLUMN sealed_profile SET STATISTICS 0;
ALTER TABLE member_profiles ALTER COLUMN sealed_profile SET STORAGE PLAIN;

-- HMAC-SHA256 digests (a key derived from the registry key) of the member's normalised email, phone,
-- name and name tokens: a scan can ask whether a value is a member's without decrypting any profile.
-- Erasure deletes the rows.
CREATE TABLE member_lookup (
    member_id text NOT NULL REFERENCES members (member_id),
    kind text NOT NULL CHECK (kind IN ('email', 'phone', 'name', 'name_token')),
    digest bytea NOT NULL CHECK (octet_length(digest) = 32),
    PRIMARY KEY (kind, digest, member_id)
);
CREATE INDEX member_lookup_member ON member_lookup (member_id);
ALTER TABLE member_lookup ALTER COLUMN digest SET STATISTICS 0;

-- Who erased or exported which member, when and why: ids and codes only, never personal data.
-- Append-only: a trigger refuses UPDATE, DELETE and TRUNCATE.
CREATE TABLE member_audit (
    audit_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    actor text NOT NULL CHECK (actor ~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$'),
    action text NOT NULL CHECK (action IN ('forget', 'export')),
    reason text NOT NULL CHECK (reason ~ '^[a-z0-9][a-z0-9_.-]{0,63}$'),
    member_id text NOT NULL REFERENCES members (member_id)
);
CREATE INDEX member_audit_member ON member_audit (member_id, audit_id);

CREATE FUNCTION member_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'member_audit is append-only: % refused', TG_OP;
END;
$$;
CREATE TRIGGER member_audit_no_change BEFORE UPDATE OR DELETE ON member_audit
    FOR EACH ROW EXECUTE FUNCTION member_audit_append_only();
CREATE TRIGGER member_audit_no_truncate BEFORE TRUNCATE ON member_audit
    FOR EACH STATEMENT EXECUTE FUNCTION member_audit_append_only();
