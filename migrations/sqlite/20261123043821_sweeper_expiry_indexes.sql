-- +goose Up
-- create index "grant_expires_at" to table: "grants"
CREATE INDEX `grant_expires_at` ON `grants` (`expires_at`);
-- create index "revokedtoken_expires_at" to table: "revoked_tokens"
CREATE INDEX `revokedtoken_expires_at` ON `revoked_tokens` (`expires_at`);

-- +goose Down
-- reverse: create index "revokedtoken_expires_at" to table: "revoked_tokens"
DROP INDEX `revokedtoken_expires_at`;
-- reverse: create index "grant_expires_at" to table: "grants"
DROP INDEX `grant_expires_at`;
