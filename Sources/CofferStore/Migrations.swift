/// The schema, as append-only numbered migrations (GRDB's `DatabaseMigrator` discipline).
///
/// A shipped migration is never edited: fix forward with a new one. Each runs in the writer's transaction and is
/// recorded in `schema_migrations`. Plain SQL, no application types.
enum Migrations {
    static let all: [(version: Int, sql: String)] = [
        (1, v1),
        (2, v2),
        (3, v3),
    ]

    /// v1: vault metadata, secrets, versions (ciphertext + wrapped data key), staging labels, tags.
    static let v1 = """
        CREATE TABLE vault (
            singleton       INTEGER PRIMARY KEY CHECK (singleton = 1),
            vault_id        TEXT    NOT NULL,   -- UUID; bound into every ciphertext's associated data
            partition       TEXT    NOT NULL,
            region          TEXT    NOT NULL,
            account_id      TEXT    NOT NULL,
            created_ms      INTEGER NOT NULL
        );

        -- Master keys known to this vault: only a key-check value (a keyed hash) is stored, never the key.
        CREATE TABLE master_keys (
            key_id          INTEGER PRIMARY KEY,
            check_value     BLOB    NOT NULL,
            created_ms      INTEGER NOT NULL,
            retired_ms      INTEGER
        );

        CREATE TABLE secrets (
            id                  INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused; bound into ciphertexts
            name                TEXT    NOT NULL UNIQUE,
            arn                 TEXT    NOT NULL UNIQUE,
            description         TEXT,
            kms_key_id          TEXT,
            created_ms          INTEGER NOT NULL,
            last_changed_ms     INTEGER NOT NULL,
            last_accessed_ms    INTEGER,                    -- day granularity, as AWS
            deleted_ms          INTEGER,                    -- DeletedDate while scheduled for deletion
            deletion_ms         INTEGER,                    -- when the purge may remove it
            tags_touched        INTEGER NOT NULL DEFAULT 0, -- Tags shown as [] once set, absent if never
            rotation_enabled    INTEGER,
            rotation_lambda_arn TEXT,
            rotation_rules      TEXT,                       -- JSON, as AWS returns it
            last_rotated_ms     INTEGER,
            resource_policy     TEXT                        -- stored JSON; enforced by the vault
        );
        CREATE INDEX secrets_deletion ON secrets(deletion_ms) WHERE deletion_ms IS NOT NULL;

        CREATE TABLE versions (
            secret_id       INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
            version_id      TEXT    NOT NULL,
            seq             INTEGER NOT NULL,               -- creation order within the secret
            created_ms      INTEGER NOT NULL,
            last_accessed_ms INTEGER,
            is_binary       INTEGER NOT NULL,
            format          INTEGER NOT NULL,               -- envelope format version
            master_key_id   INTEGER NOT NULL,
            data_key_id     BLOB    NOT NULL,
            wrapped_key     BLOB    NOT NULL,               -- data key sealed under the master key
            value_nonce     BLOB    NOT NULL,
            ciphertext      BLOB    NOT NULL,               -- value sealed under the data key
            PRIMARY KEY (secret_id, version_id)
        ) WITHOUT ROWID;
        CREATE INDEX versions_seq ON versions(secret_id, seq);
        CREATE INDEX versions_master_key ON versions(master_key_id);

        CREATE TABLE stages (
            secret_id       INTEGER NOT NULL,
            stage           TEXT    NOT NULL,
            version_id      TEXT    NOT NULL,
            PRIMARY KEY (secret_id, stage),
            FOREIGN KEY (secret_id, version_id) REFERENCES versions(secret_id, version_id) ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE INDEX stages_version ON stages(secret_id, version_id);

        CREATE TABLE tags (
            secret_id       INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
            key             TEXT    NOT NULL,
            value           TEXT    NOT NULL,
            seq             INTEGER NOT NULL,               -- insertion order, as AWS lists them
            PRIMARY KEY (secret_id, key)
        ) WITHOUT ROWID;
        """

    /// v2: IAM — roles (a systemd unit is a role), inline policies of users/groups/roles, managed policies with
    /// versions, and attachments. Users and groups are the host's accounts; they are named, not stored.
    static let v2 = """
        CREATE TABLE iam_roles (
            name                TEXT    PRIMARY KEY,        -- the systemd unit, e.g. nginx.service
            role_id             TEXT    NOT NULL UNIQUE,
            path                TEXT    NOT NULL,
            description         TEXT,
            assume_role_policy  TEXT,
            max_session_seconds INTEGER,
            created_ms          INTEGER NOT NULL
        );

        CREATE TABLE iam_inline_policies (
            principal_kind  TEXT    NOT NULL CHECK (principal_kind IN ('user', 'group', 'role')),
            principal_name  TEXT    NOT NULL,
            policy_name     TEXT    NOT NULL,
            document        TEXT    NOT NULL,
            PRIMARY KEY (principal_kind, principal_name, policy_name)
        ) WITHOUT ROWID;

        CREATE TABLE iam_policies (
            name            TEXT    PRIMARY KEY,
            policy_id       TEXT    NOT NULL UNIQUE,
            path            TEXT    NOT NULL,
            description     TEXT,
            default_version TEXT    NOT NULL,
            next_version    INTEGER NOT NULL,
            created_ms      INTEGER NOT NULL,
            updated_ms      INTEGER NOT NULL
        );

        CREATE TABLE iam_policy_versions (
            policy_name     TEXT    NOT NULL REFERENCES iam_policies(name) ON DELETE CASCADE,
            version_id      TEXT    NOT NULL,
            document        TEXT    NOT NULL,
            created_ms      INTEGER NOT NULL,
            PRIMARY KEY (policy_name, version_id)
        ) WITHOUT ROWID;

        CREATE TABLE iam_attachments (
            principal_kind  TEXT    NOT NULL CHECK (principal_kind IN ('user', 'group', 'role')),
            principal_name  TEXT    NOT NULL,
            policy_name     TEXT    NOT NULL REFERENCES iam_policies(name),
            PRIMARY KEY (principal_kind, principal_name, policy_name)
        ) WITHOUT ROWID;
        CREATE INDEX iam_attachments_policy ON iam_attachments(policy_name);
        """

    /// v3: master keys wrapped under a passphrase-derived key (the `passphrase` key source), with the Argon2id
    /// parameters needed to derive it again.
    static let v3 = """
        CREATE TABLE key_wrappings (
            key_id      INTEGER PRIMARY KEY,
            salt        BLOB    NOT NULL,
            ops_limit   INTEGER NOT NULL,
            mem_limit   INTEGER NOT NULL,
            wrapped     BLOB    NOT NULL,
            created_ms  INTEGER NOT NULL
        );
        """
}
