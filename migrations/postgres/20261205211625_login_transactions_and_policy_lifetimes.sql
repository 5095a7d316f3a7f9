-- +goose Up
-- modify "auth_requests" table
ALTER TABLE "auth_requests" ADD COLUMN "policy_expires_at" timestamptz NULL, ADD COLUMN "policy_idle_lifetime_seconds" bigint NULL;
-- modify "grants" table
ALTER TABLE "grants" ADD COLUMN "idle_lifetime_seconds" bigint NULL;
-- modify "sessions" table
ALTER TABLE "sessions" ADD COLUMN "idle_timeout_seconds" bigint NOT NULL DEFAULT 86400;
-- create "login_transactions" table
CREATE TABLE "login_transactions" ("id" character varying NOT NULL, "token_hash" character varying NOT NULL, "auth_request_id" character varying NULL, "user_id" character varying NULL, "organization_id" character varying NULL, "factors" jsonb NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "login_transactions_token_hash_key" to table: "login_transactions"
CREATE UNIQUE INDEX "login_transactions_token_hash_key" ON "login_transactions" ("token_hash");
-- create index "logintransaction_expires_at" to table: "login_transactions"
CREATE INDEX "logintransaction_expires_at" ON "login_transactions" ("expires_at");

-- +goose Down
-- reverse: create index "logintransaction_expires_at" to table: "login_transactions"
DROP INDEX "logintransaction_expires_at";
-- reverse: create index "login_transactions_token_hash_key" to table: "login_transactions"
DROP INDEX "login_transactions_token_hash_key";
-- reverse: create "login_transactions" table
DROP TABLE "login_transactions";
-- reverse: modify "sessions" table
ALTER TABLE "sessions" DROP COLUMN "idle_timeout_seconds";
-- reverse: modify "grants" table
ALTER TABLE "grants" DROP COLUMN "idle_lifetime_seconds";
-- reverse: modify "auth_requests" table
ALTER TABLE "auth_requests" DROP COLUMN "policy_idle_lifetime_seconds", DROP COLUMN "policy_expires_at";
