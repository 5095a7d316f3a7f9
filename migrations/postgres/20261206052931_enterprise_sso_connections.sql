-- +goose Up
-- modify "connections" table
ALTER TABLE "connections" ADD COLUMN "preset" character varying NOT NULL DEFAULT 'GENERIC', ADD COLUMN "idp_entity_id" character varying NULL, ADD COLUMN "idp_sso_url" character varying NULL, ADD COLUMN "idp_sso_binding" character varying NULL, ADD COLUMN "idp_certificates" jsonb NULL, ADD COLUMN "idp_metadata_url" character varying NULL, ADD COLUMN "idp_metadata_refreshed_at" timestamptz NULL, ADD COLUMN "sp_keys" jsonb NULL, ADD COLUMN "allow_idp_initiated" boolean NOT NULL DEFAULT false, ADD COLUMN "oidc_issuer" character varying NULL, ADD COLUMN "oidc_client_id" character varying NULL, ADD COLUMN "oidc_client_secret_sealed" bytea NULL, ADD COLUMN "oidc_scopes" jsonb NULL, ADD COLUMN "attribute_mapping" jsonb NULL, ADD COLUMN "default_role_id" character varying NULL, ADD COLUMN "group_role_mappings" jsonb NULL, ADD COLUMN "trust_upstream_amr" boolean NOT NULL DEFAULT false;
-- create "connection_login_attempts" table
CREATE TABLE "connection_login_attempts" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "succeeded" boolean NOT NULL, "error_code" character varying NULL, "error_reason" character varying NULL, "subject" character varying NULL, "email" character varying NULL, "attributes" jsonb NULL, "connection_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "connection_login_attempts_connections_login_attempts" FOREIGN KEY ("connection_id") REFERENCES "connections" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "connectionloginattempt_connection_id_id" to table: "connection_login_attempts"
CREATE INDEX "connectionloginattempt_connection_id_id" ON "connection_login_attempts" ("connection_id", "id");
-- create "federated_identities" table
CREATE TABLE "federated_identities" ("id" character varying NOT NULL, "subject" character varying NOT NULL, "created_at" timestamptz NOT NULL, "last_sign_in_at" timestamptz NULL, "connection_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "federated_identities_connections_federated_identities" FOREIGN KEY ("connection_id") REFERENCES "connections" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "federated_identities_users_federated_identities" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "federatedidentity_connection_id_subject" to table: "federated_identities"
CREATE UNIQUE INDEX "federatedidentity_connection_id_subject" ON "federated_identities" ("connection_id", "subject");
-- create index "federatedidentity_user_id" to table: "federated_identities"
CREATE INDEX "federatedidentity_user_id" ON "federated_identities" ("user_id");
-- create "saml_assertion_uses" table
CREATE TABLE "saml_assertion_uses" ("id" character varying NOT NULL, "assertion_id" character varying NOT NULL, "expires_at" timestamptz NOT NULL, "connection_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "saml_assertion_uses_connections_assertion_uses" FOREIGN KEY ("connection_id") REFERENCES "connections" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "samlassertionuse_connection_id_assertion_id" to table: "saml_assertion_uses"
CREATE UNIQUE INDEX "samlassertionuse_connection_id_assertion_id" ON "saml_assertion_uses" ("connection_id", "assertion_id");
-- create index "samlassertionuse_expires_at" to table: "saml_assertion_uses"
CREATE INDEX "samlassertionuse_expires_at" ON "saml_assertion_uses" ("expires_at");

-- +goose Down
-- reverse: create index "samlassertionuse_expires_at" to table: "saml_assertion_uses"
DROP INDEX "samlassertionuse_expires_at";
-- reverse: create index "samlassertionuse_connection_id_assertion_id" to table: "saml_assertion_uses"
DROP INDEX "samlassertionuse_connection_id_assertion_id";
-- reverse: create "saml_assertion_uses" table
DROP TABLE "saml_assertion_uses";
-- reverse: create index "federatedidentity_user_id" to table: "federated_identities"
DROP INDEX "federatedidentity_user_id";
-- reverse: create index "federatedidentity_connection_id_subject" to table: "federated_identities"
DROP INDEX "federatedidentity_connection_id_subject";
-- reverse: create "federated_identities" table
DROP TABLE "federated_identities";
-- reverse: create index "connectionloginattempt_connection_id_id" to table: "connection_login_attempts"
DROP INDEX "connectionloginattempt_connection_id_id";
-- reverse: create "connection_login_attempts" table
DROP TABLE "connection_login_attempts";
-- reverse: modify "connections" table
ALTER TABLE "connections" DROP COLUMN "trust_upstream_amr", DROP COLUMN "group_role_mappings", DROP COLUMN "default_role_id", DROP COLUMN "attribute_mapping", DROP COLUMN "oidc_scopes", DROP COLUMN "oidc_client_secret_sealed", DROP COLUMN "oidc_client_id", DROP COLUMN "oidc_issuer", DROP COLUMN "allow_idp_initiated", DROP COLUMN "sp_keys", DROP COLUMN "idp_metadata_refreshed_at", DROP COLUMN "idp_metadata_url", DROP COLUMN "idp_certificates", DROP COLUMN "idp_sso_binding", DROP COLUMN "idp_sso_url", DROP COLUMN "idp_entity_id", DROP COLUMN "preset";
