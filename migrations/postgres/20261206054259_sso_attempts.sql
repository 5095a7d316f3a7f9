-- +goose Up
-- create "sso_attempts" table
CREATE TABLE "sso_attempts" ("id" character varying NOT NULL, "relay_hash" character varying NOT NULL, "browser_hash" character varying NOT NULL, "connection_id" character varying NOT NULL, "auth_request_id" character varying NULL, "state" bytea NOT NULL, "identity" bytea NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "sso_attempts_relay_hash_key" to table: "sso_attempts"
CREATE UNIQUE INDEX "sso_attempts_relay_hash_key" ON "sso_attempts" ("relay_hash");
-- create index "ssoattempt_browser_hash" to table: "sso_attempts"
CREATE INDEX "ssoattempt_browser_hash" ON "sso_attempts" ("browser_hash");
-- create index "ssoattempt_expires_at" to table: "sso_attempts"
CREATE INDEX "ssoattempt_expires_at" ON "sso_attempts" ("expires_at");

-- +goose Down
-- reverse: create index "ssoattempt_expires_at" to table: "sso_attempts"
DROP INDEX "ssoattempt_expires_at";
-- reverse: create index "ssoattempt_browser_hash" to table: "sso_attempts"
DROP INDEX "ssoattempt_browser_hash";
-- reverse: create index "sso_attempts_relay_hash_key" to table: "sso_attempts"
DROP INDEX "sso_attempts_relay_hash_key";
-- reverse: create "sso_attempts" table
DROP TABLE "sso_attempts";
