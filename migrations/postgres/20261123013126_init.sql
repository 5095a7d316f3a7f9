-- +goose Up
-- create "applications" table
CREATE TABLE "applications" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "type" character varying NOT NULL, "client_id" character varying NOT NULL, "secret_hash" character varying NULL, "redirect_uris" jsonb NULL, "post_logout_redirect_uris" jsonb NULL, "grant_types" jsonb NULL, "access_token_lifetime_seconds" bigint NOT NULL DEFAULT 900, "id_token_lifetime_seconds" bigint NOT NULL DEFAULT 3600, "refresh_token_lifetime_seconds" bigint NOT NULL DEFAULT 2592000, PRIMARY KEY ("id"));
-- create index "applications_client_id_key" to table: "applications"
CREATE UNIQUE INDEX "applications_client_id_key" ON "applications" ("client_id");
-- create "audit_events" table
CREATE TABLE "audit_events" ("id" character varying NOT NULL, "organization_id" character varying NULL, "action" character varying NOT NULL, "actor" character varying NOT NULL, "actor_type" character varying NOT NULL, "target_type" character varying NULL, "target_id" character varying NULL, "ip" character varying NULL, "user_agent" character varying NULL, "request_id" character varying NULL, "metadata" jsonb NULL, "created_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "auditevent_organization_id_created_at" to table: "audit_events"
CREATE INDEX "auditevent_organization_id_created_at" ON "audit_events" ("organization_id", "created_at");
-- create index "auditevent_target_id" to table: "audit_events"
CREATE INDEX "auditevent_target_id" ON "audit_events" ("target_id");
-- create "organizations" table
CREATE TABLE "organizations" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "slug" character varying NOT NULL, "logo_url" character varying NULL, "primary_color" character varying NULL, "metadata" jsonb NULL, PRIMARY KEY ("id"));
-- create index "organizations_slug_key" to table: "organizations"
CREATE UNIQUE INDEX "organizations_slug_key" ON "organizations" ("slug");
-- create "api_keys" table
CREATE TABLE "api_keys" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "name" character varying NOT NULL, "prefix" character varying NOT NULL, "secret_hash" character varying NOT NULL, "scopes" jsonb NULL, "last_used_at" timestamptz NULL, "revoked_at" timestamptz NULL, "organization_id" character varying NULL, PRIMARY KEY ("id"), CONSTRAINT "api_keys_organizations_api_keys" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "api_keys_prefix_key" to table: "api_keys"
CREATE UNIQUE INDEX "api_keys_prefix_key" ON "api_keys" ("prefix");
-- create "connections" table
CREATE TABLE "connections" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "protocol" character varying NOT NULL, "name" character varying NOT NULL, "state" character varying NOT NULL DEFAULT 'DRAFT', "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "connections_organizations_connections" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create "domains" table
CREATE TABLE "domains" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "domain" character varying NOT NULL, "verification_state" character varying NOT NULL DEFAULT 'PENDING', "txt_token" character varying NOT NULL, "verified_at" timestamptz NULL, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "domains_organizations_domains" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "domains_domain_key" to table: "domains"
CREATE UNIQUE INDEX "domains_domain_key" ON "domains" ("domain");
-- create "users" table
CREATE TABLE "users" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "email" character varying NOT NULL, "email_verified" boolean NOT NULL DEFAULT false, "name" character varying NULL, "given_name" character varying NULL, "family_name" character varying NULL, "locale" character varying NULL, "picture" character varying NULL, "status" character varying NOT NULL DEFAULT 'ACTIVE', "last_login_at" timestamptz NULL, "metadata" jsonb NULL, PRIMARY KEY ("id"));
-- create index "users_email_key" to table: "users"
CREATE UNIQUE INDEX "users_email_key" ON "users" ("email");
-- create "memberships" table
CREATE TABLE "memberships" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "status" character varying NOT NULL DEFAULT 'ACTIVE', "organization_id" character varying NOT NULL, "user_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "memberships_organizations_memberships" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "memberships_users_memberships" FOREIGN KEY ("user_id") REFERENCES "users" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "membership_organization_id_id" to table: "memberships"
CREATE INDEX "membership_organization_id_id" ON "memberships" ("organization_id", "id");
-- create index "membership_user_id_organization_id" to table: "memberships"
CREATE UNIQUE INDEX "membership_user_id_organization_id" ON "memberships" ("user_id", "organization_id");
-- create "roles" table
CREATE TABLE "roles" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "key" character varying NOT NULL, "name" character varying NOT NULL, "description" character varying NULL, "permissions" jsonb NULL, "builtin" boolean NOT NULL DEFAULT false, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "roles_organizations_roles" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "role_organization_id_key" to table: "roles"
CREATE UNIQUE INDEX "role_organization_id_key" ON "roles" ("organization_id", "key");
-- create "membership_roles" table
CREATE TABLE "membership_roles" ("membership_id" character varying NOT NULL, "role_id" character varying NOT NULL, PRIMARY KEY ("membership_id", "role_id"), CONSTRAINT "membership_roles_membership_id" FOREIGN KEY ("membership_id") REFERENCES "memberships" ("id") ON UPDATE NO ACTION ON DELETE CASCADE, CONSTRAINT "membership_roles_role_id" FOREIGN KEY ("role_id") REFERENCES "roles" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create "organization_policies" table
CREATE TABLE "organization_policies" ("id" character varying NOT NULL, "created_at" timestamptz NOT NULL, "updated_at" timestamptz NOT NULL, "mfa_required" boolean NOT NULL DEFAULT false, "allowed_login_methods" jsonb NOT NULL, "session_absolute_lifetime_seconds" bigint NOT NULL DEFAULT 604800, "session_idle_lifetime_seconds" bigint NOT NULL DEFAULT 86400, "password_min_length" bigint NOT NULL DEFAULT 10, "enforce_sso" boolean NOT NULL DEFAULT false, "organization_id" character varying NOT NULL, PRIMARY KEY ("id"), CONSTRAINT "organization_policies_organizations_policy" FOREIGN KEY ("organization_id") REFERENCES "organizations" ("id") ON UPDATE NO ACTION ON DELETE CASCADE);
-- create index "organization_policies_organization_id_key" to table: "organization_policies"
CREATE UNIQUE INDEX "organization_policies_organization_id_key" ON "organization_policies" ("organization_id");

-- +goose Down
-- reverse: create index "organization_policies_organization_id_key" to table: "organization_policies"
DROP INDEX "organization_policies_organization_id_key";
-- reverse: create "organization_policies" table
DROP TABLE "organization_policies";
-- reverse: create "membership_roles" table
DROP TABLE "membership_roles";
-- reverse: create index "role_organization_id_key" to table: "roles"
DROP INDEX "role_organization_id_key";
-- reverse: create "roles" table
DROP TABLE "roles";
-- reverse: create index "membership_user_id_organization_id" to table: "memberships"
DROP INDEX "membership_user_id_organization_id";
-- reverse: create index "membership_organization_id_id" to table: "memberships"
DROP INDEX "membership_organization_id_id";
-- reverse: create "memberships" table
DROP TABLE "memberships";
-- reverse: create index "users_email_key" to table: "users"
DROP INDEX "users_email_key";
-- reverse: create "users" table
DROP TABLE "users";
-- reverse: create index "domains_domain_key" to table: "domains"
DROP INDEX "domains_domain_key";
-- reverse: create "domains" table
DROP TABLE "domains";
-- reverse: create "connections" table
DROP TABLE "connections";
-- reverse: create index "api_keys_prefix_key" to table: "api_keys"
DROP INDEX "api_keys_prefix_key";
-- reverse: create "api_keys" table
DROP TABLE "api_keys";
-- reverse: create index "organizations_slug_key" to table: "organizations"
DROP INDEX "organizations_slug_key";
-- reverse: create "organizations" table
DROP TABLE "organizations";
-- reverse: create index "auditevent_target_id" to table: "audit_events"
DROP INDEX "auditevent_target_id";
-- reverse: create index "auditevent_organization_id_created_at" to table: "audit_events"
DROP INDEX "auditevent_organization_id_created_at";
-- reverse: create "audit_events" table
DROP TABLE "audit_events";
-- reverse: create index "applications_client_id_key" to table: "applications"
DROP INDEX "applications_client_id_key";
-- reverse: create "applications" table
DROP TABLE "applications";
