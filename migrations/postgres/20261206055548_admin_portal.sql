-- +goose Up
-- modify "sso_attempts" table
ALTER TABLE "sso_attempts" ADD COLUMN "purpose" character varying NOT NULL DEFAULT 'SIGN_IN', ADD COLUMN "portal_session_id" character varying NULL;
-- create "admin_portal_links" table
CREATE TABLE "admin_portal_links" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "intent" character varying NOT NULL, "token_hash" character varying NOT NULL, "created_by" character varying NOT NULL, "return_url" character varying NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, "used_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "admin_portal_links_token_hash_key" to table: "admin_portal_links"
CREATE UNIQUE INDEX "admin_portal_links_token_hash_key" ON "admin_portal_links" ("token_hash");
-- create index "adminportallink_expires_at" to table: "admin_portal_links"
CREATE INDEX "adminportallink_expires_at" ON "admin_portal_links" ("expires_at");
-- create index "adminportallink_organization_id" to table: "admin_portal_links"
CREATE INDEX "adminportallink_organization_id" ON "admin_portal_links" ("organization_id");
-- create "portal_sessions" table
CREATE TABLE "portal_sessions" ("id" character varying NOT NULL, "organization_id" character varying NOT NULL, "intent" character varying NOT NULL, "token_hash" character varying NOT NULL, "link_id" character varying NOT NULL, "return_url" character varying NULL, "created_at" timestamptz NOT NULL, "expires_at" timestamptz NOT NULL, "last_used_at" timestamptz NOT NULL, PRIMARY KEY ("id"));
-- create index "portal_sessions_token_hash_key" to table: "portal_sessions"
CREATE UNIQUE INDEX "portal_sessions_token_hash_key" ON "portal_sessions" ("token_hash");
-- create index "portalsession_expires_at" to table: "portal_sessions"
CREATE INDEX "portalsession_expires_at" ON "portal_sessions" ("expires_at");
-- create index "portalsession_organization_id" to table: "portal_sessions"
CREATE INDEX "portalsession_organization_id" ON "portal_sessions" ("organization_id");

-- +goose Down
-- reverse: create index "portalsession_organization_id" to table: "portal_sessions"
DROP INDEX "portalsession_organization_id";
-- reverse: create index "portalsession_expires_at" to table: "portal_sessions"
DROP INDEX "portalsession_expires_at";
-- reverse: create index "portal_sessions_token_hash_key" to table: "portal_sessions"
DROP INDEX "portal_sessions_token_hash_key";
-- reverse: create "portal_sessions" table
DROP TABLE "portal_sessions";
-- reverse: create index "adminportallink_organization_id" to table: "admin_portal_links"
DROP INDEX "adminportallink_organization_id";
-- reverse: create index "adminportallink_expires_at" to table: "admin_portal_links"
DROP INDEX "adminportallink_expires_at";
-- reverse: create index "admin_portal_links_token_hash_key" to table: "admin_portal_links"
DROP INDEX "admin_portal_links_token_hash_key";
-- reverse: create "admin_portal_links" table
DROP TABLE "admin_portal_links";
-- reverse: modify "sso_attempts" table
ALTER TABLE "sso_attempts" DROP COLUMN "portal_session_id", DROP COLUMN "purpose";
