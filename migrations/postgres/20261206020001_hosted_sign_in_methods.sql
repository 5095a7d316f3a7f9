-- +goose Up
-- modify "organization_policies" table
ALTER TABLE "organization_policies" ALTER COLUMN "password_min_length" SET DEFAULT 8;
-- modify "sessions" table
ALTER TABLE "sessions" ADD COLUMN "device_id" character varying NULL;
-- create "email_challenges" table
CREATE TABLE "email_challenges" ("id" character varying NOT NULL, "purpose" character varying NOT NULL, "email" character varying NOT NULL, "user_id" character varying NULL, "code_hash" character varying NOT NULL, "link_hash" character varying NOT NULL, "browser_hash" character varying NULL, "auth_request_id" character varying NULL, "attempts" bigint NOT NULL DEFAULT 0, "data" jsonb NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, "used_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "email_challenges_link_hash_key" to table: "email_challenges"
CREATE UNIQUE INDEX "email_challenges_link_hash_key" ON "email_challenges" ("link_hash");
-- create index "emailchallenge_email_purpose" to table: "email_challenges"
CREATE INDEX "emailchallenge_email_purpose" ON "email_challenges" ("email", "purpose");
-- create index "emailchallenge_expires_at" to table: "email_challenges"
CREATE INDEX "emailchallenge_expires_at" ON "email_challenges" ("expires_at");
-- create index "emailchallenge_user_id" to table: "email_challenges"
CREATE INDEX "emailchallenge_user_id" ON "email_challenges" ("user_id");
-- create "funnel_counts" table
CREATE TABLE "funnel_counts" ("id" character varying NOT NULL, "day" character varying NOT NULL, "organization_id" character varying NOT NULL DEFAULT '', "application_id" character varying NOT NULL DEFAULT '', "event" character varying NOT NULL, "count" bigint NOT NULL DEFAULT 0, PRIMARY KEY ("id"));
-- create index "funnelcount_organization_id_day_application_id_event" to table: "funnel_counts"
CREATE UNIQUE INDEX "funnelcount_organization_id_day_application_id_event" ON "funnel_counts" ("organization_id", "day", "application_id", "event");
-- create "web_authn_ceremonies" table
CREATE TABLE "web_authn_ceremonies" ("id" character varying NOT NULL, "token_hash" character varying NOT NULL, "purpose" character varying NOT NULL, "user_id" character varying NULL, "session_data" bytea NOT NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "web_authn_ceremonies_token_hash_key" to table: "web_authn_ceremonies"
CREATE UNIQUE INDEX "web_authn_ceremonies_token_hash_key" ON "web_authn_ceremonies" ("token_hash");
-- create index "webauthnceremony_expires_at" to table: "web_authn_ceremonies"
CREATE INDEX "webauthnceremony_expires_at" ON "web_authn_ceremonies" ("expires_at");
-- create "passkeys" table
CREATE TABLE "passkeys" ("id" character varying NOT NULL, "name" character varying NOT NULL DEFAULT 'Passkey', "credential_id" bytea NOT NULL, "public_key" bytea NOT NULL, "attestation_type" character varying NULL, "aaguid" bytea NULL, "sign_count" bigint NOT NULL DEFAULT 0, "clone_warning" boolean NOT NULL DEFAULT false, "user_verified" boolean NOT NULL DEFAULT false, "backup_eligible" boolean NOT NULL DEFAULT false, "backup_state" boolean NOT NULL DEFAULT false, "transports" jsonb NULL, "rp_id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "last_used_at" timestamptz NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "passkeys_users_passkeys" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "passkey_user_id" to table: "passkeys"
CREATE INDEX "passkey_user_id" ON "passkeys" ("user_id");
-- create index "passkeys_credential_id_key" to table: "passkeys"
CREATE UNIQUE INDEX "passkeys_credential_id_key" ON "passkeys" ("credential_id");
-- create "recovery_codes" table
CREATE TABLE "recovery_codes" ("id" character varying NOT NULL, "code_hash" character varying NOT NULL, "used_at" timestamptz NULL, "created_at" timestamptz NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "recovery_codes_users_recovery_codes" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "recoverycode_user_id_code_hash" to table: "recovery_codes"
CREATE UNIQUE INDEX "recoverycode_user_id_code_hash" ON "recovery_codes" ("user_id", "code_hash");
-- create "totp_credentials" table
CREATE TABLE "totp_credentials" ("id" character varying NOT NULL, "name" character varying NOT NULL DEFAULT 'Authenticator app', "secret_sealed" bytea NOT NULL, "last_used_step" bigint NOT NULL DEFAULT 0, "confirmed_at" timestamptz NULL, "created_at" timestamptz NOT NULL, "last_used_at" timestamptz NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "totp_credentials_users_totp_credentials" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "totpcredential_user_id" to table: "totp_credentials"
CREATE INDEX "totpcredential_user_id" ON "totp_credentials" ("user_id");

-- +goose Down
-- reverse: create index "totpcredential_user_id" to table: "totp_credentials"
DROP INDEX "totpcredential_user_id";
-- reverse: create "totp_credentials" table
DROP TABLE "totp_credentials";
-- reverse: create index "recoverycode_user_id_code_hash" to table: "recovery_codes"
DROP INDEX "recoverycode_user_id_code_hash";
-- reverse: create "recovery_codes" table
DROP TABLE "recovery_codes";
-- reverse: create index "passkeys_credential_id_key" to table: "passkeys"
DROP INDEX "passkeys_credential_id_key";
-- reverse: create index "passkey_user_id" to table: "passkeys"
DROP INDEX "passkey_user_id";
-- reverse: create "passkeys" table
DROP TABLE "passkeys";
-- reverse: create index "webauthnceremony_expires_at" to table: "web_authn_ceremonies"
DROP INDEX "webauthnceremony_expires_at";
-- reverse: create index "web_authn_ceremonies_token_hash_key" to table: "web_authn_ceremonies"
DROP INDEX "web_authn_ceremonies_token_hash_key";
-- reverse: create "web_authn_ceremonies" table
DROP TABLE "web_authn_ceremonies";
-- reverse: create index "funnelcount_organization_id_day_application_id_event" to table: "funnel_counts"
DROP INDEX "funnelcount_organization_id_day_application_id_event";
-- reverse: create "funnel_counts" table
DROP TABLE "funnel_counts";
-- reverse: create index "emailchallenge_user_id" to table: "email_challenges"
DROP INDEX "emailchallenge_user_id";
-- reverse: create index "emailchallenge_expires_at" to table: "email_challenges"
DROP INDEX "emailchallenge_expires_at";
-- reverse: create index "emailchallenge_email_purpose" to table: "email_challenges"
DROP INDEX "emailchallenge_email_purpose";
-- reverse: create index "email_challenges_link_hash_key" to table: "email_challenges"
DROP INDEX "email_challenges_link_hash_key";
-- reverse: create "email_challenges" table
DROP TABLE "email_challenges";
-- reverse: modify "sessions" table
ALTER TABLE "sessions" DROP COLUMN "device_id";
-- reverse: modify "organization_policies" table
ALTER TABLE "organization_policies" ALTER COLUMN "password_min_length" SET DEFAULT 10;
