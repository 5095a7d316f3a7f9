-- +goose Up
-- modify "applications" table
ALTER TABLE "applications" ADD COLUMN "refresh_token_idle_lifetime_seconds" bigint NOT NULL DEFAULT 604800, ADD COLUMN "access_token_signing_algorithm" character varying NOT NULL DEFAULT 'RS256', ADD COLUMN "id_token_signing_algorithm" character varying NOT NULL DEFAULT 'RS256', ADD COLUMN "token_endpoint_auth_method" character varying NOT NULL DEFAULT 'CLIENT_SECRET_BASIC', ADD COLUMN "jwks" jsonb NULL, ADD COLUMN "jwks_uri" character varying NULL, ADD COLUMN "scopes" jsonb NULL, ADD COLUMN "first_party" boolean NOT NULL DEFAULT true;
-- modify "users" table
ALTER TABLE "users" ADD COLUMN "password_hash" character varying NULL;
-- create "auth_requests" table
CREATE TABLE "auth_requests" ("id" character varying NOT NULL, "client_id" character varying NOT NULL, "redirect_uri" character varying NOT NULL, "scopes" jsonb NOT NULL, "response_type" character varying NOT NULL, "response_mode" character varying NULL, "state" character varying NULL, "nonce" character varying NULL, "code_challenge" character varying NULL, "code_challenge_method" character varying NULL, "prompt" jsonb NULL, "max_age_seconds" bigint NULL, "login_hint" character varying NULL, "acr_values" jsonb NULL, "ui_locales" jsonb NULL, "requested_organization_id" character varying NULL, "user_id" character varying NULL, "organization_id" character varying NULL, "session_id" character varying NULL, "auth_time" timestamptz NULL, "amr" jsonb NULL, "acr" character varying NULL, "done" boolean NOT NULL DEFAULT false, "code_hash" character varying NULL, "code_used_at" timestamptz NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "auth_requests_code_hash_key" to table: "auth_requests"
CREATE UNIQUE INDEX "auth_requests_code_hash_key" ON "auth_requests" ("code_hash");
-- create index "authrequest_expires_at" to table: "auth_requests"
CREATE INDEX "authrequest_expires_at" ON "auth_requests" ("expires_at");
-- create "consents" table
CREATE TABLE "consents" ("id" character varying NOT NULL, "user_id" character varying NOT NULL, "client_id" character varying NOT NULL, "scopes" jsonb NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "consent_user_id_client_id" to table: "consents"
CREATE UNIQUE INDEX "consent_user_id_client_id" ON "consents" ("user_id", "client_id");
-- create "grants" table
CREATE TABLE "grants" ("id" character varying NOT NULL, "client_id" character varying NOT NULL, "user_id" character varying NOT NULL, "organization_id" character varying NULL, "session_id" character varying NULL, "auth_request_id" character varying NULL, "scopes" jsonb NOT NULL, "audience" jsonb NULL, "auth_time" timestamptz NOT NULL, "amr" jsonb NULL, "acr" character varying NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, "revoked_at" timestamptz NULL, "revoke_reason" character varying NULL, PRIMARY KEY ("id"));
-- create index "grant_auth_request_id" to table: "grants"
CREATE INDEX "grant_auth_request_id" ON "grants" ("auth_request_id");
-- create index "grant_session_id" to table: "grants"
CREATE INDEX "grant_session_id" ON "grants" ("session_id");
-- create index "grant_user_id" to table: "grants"
CREATE INDEX "grant_user_id" ON "grants" ("user_id");
-- create "revoked_tokens" table
CREATE TABLE "revoked_tokens" ("id" character varying NOT NULL, "jti" character varying NOT NULL, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "revoked_tokens_jti_key" to table: "revoked_tokens"
CREATE UNIQUE INDEX "revoked_tokens_jti_key" ON "revoked_tokens" ("jti");
-- create "sessions" table
CREATE TABLE "sessions" ("id" character varying NOT NULL, "user_id" character varying NOT NULL, "token_hash" character varying NOT NULL, "auth_time" timestamptz NOT NULL, "amr" jsonb NULL, "acr" character varying NULL, "ip" character varying NULL, "user_agent" character varying NULL, "created_at" timestamptz NOT NULL, "last_seen_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, "revoked_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "session_user_id" to table: "sessions"
CREATE INDEX "session_user_id" ON "sessions" ("user_id");
-- create index "sessions_token_hash_key" to table: "sessions"
CREATE UNIQUE INDEX "sessions_token_hash_key" ON "sessions" ("token_hash");
-- create "signing_keys" table
CREATE TABLE "signing_keys" ("id" character varying NOT NULL, "algorithm" character varying NOT NULL, "sealed_private_key" bytea NOT NULL, "public_jwk" jsonb NOT NULL, "created_at" timestamptz NOT NULL, "activates_at" timestamptz NOT NULL, "retired_at" timestamptz NULL, "expires_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "signingkey_algorithm_activates_at" to table: "signing_keys"
CREATE INDEX "signingkey_algorithm_activates_at" ON "signing_keys" ("algorithm", "activates_at");
-- create "refresh_tokens" table
CREATE TABLE "refresh_tokens" ("id" character varying NOT NULL, "token_hash" character varying NOT NULL, "created_at" timestamptz NOT NULL, "idle_expires_at" timestamptz NOT NULL, "used_at" timestamptz NULL, "grant_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "refresh_tokens_grants_refresh_tokens" FOREIGN KEY ("grant_id") REFERENCES "grants" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "refresh_tokens_token_hash_key" to table: "refresh_tokens"
CREATE UNIQUE INDEX "refresh_tokens_token_hash_key" ON "refresh_tokens" ("token_hash");

-- +goose Down
-- reverse: create index "refresh_tokens_token_hash_key" to table: "refresh_tokens"
DROP INDEX "refresh_tokens_token_hash_key";
-- reverse: create "refresh_tokens" table
DROP TABLE "refresh_tokens";
-- reverse: create index "signingkey_algorithm_activates_at" to table: "signing_keys"
DROP INDEX "signingkey_algorithm_activates_at";
-- reverse: create "signing_keys" table
DROP TABLE "signing_keys";
-- reverse: create index "sessions_token_hash_key" to table: "sessions"
DROP INDEX "sessions_token_hash_key";
-- reverse: create index "session_user_id" to table: "sessions"
DROP INDEX "session_user_id";
-- reverse: create "sessions" table
DROP TABLE "sessions";
-- reverse: create index "revoked_tokens_jti_key" to table: "revoked_tokens"
DROP INDEX "revoked_tokens_jti_key";
-- reverse: create "revoked_tokens" table
DROP TABLE "revoked_tokens";
-- reverse: create index "grant_user_id" to table: "grants"
DROP INDEX "grant_user_id";
-- reverse: create index "grant_session_id" to table: "grants"
DROP INDEX "grant_session_id";
-- reverse: create index "grant_auth_request_id" to table: "grants"
DROP INDEX "grant_auth_request_id";
-- reverse: create "grants" table
DROP TABLE "grants";
-- reverse: create index "consent_user_id_client_id" to table: "consents"
DROP INDEX "consent_user_id_client_id";
-- reverse: create "consents" table
DROP TABLE "consents";
-- reverse: create index "authrequest_expires_at" to table: "auth_requests"
DROP INDEX "authrequest_expires_at";
-- reverse: create index "auth_requests_code_hash_key" to table: "auth_requests"
DROP INDEX "auth_requests_code_hash_key";
-- reverse: create "auth_requests" table
DROP TABLE "auth_requests";
-- reverse: modify "users" table
ALTER TABLE "users" DROP COLUMN "password_hash";
-- reverse: modify "applications" table
ALTER TABLE "applications" DROP COLUMN "first_party", DROP COLUMN "scopes", DROP COLUMN "jwks_uri", DROP COLUMN "jwks", DROP COLUMN "token_endpoint_auth_method", DROP COLUMN "id_token_signing_algorithm", DROP COLUMN "access_token_signing_algorithm", DROP COLUMN "refresh_token_idle_lifetime_seconds";
