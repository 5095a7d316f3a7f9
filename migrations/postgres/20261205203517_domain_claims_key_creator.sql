-- +goose Up
-- modify "api_keys" table
ALTER TABLE "api_keys" ADD COLUMN "created_by" character varying NULL;
-- drop index "domains_domain_key" from table: "domains"
DROP INDEX "domains_domain_key";
-- create index "domain_domain" to table: "domains"
CREATE UNIQUE INDEX "domain_domain" ON "domains" ("domain") WHERE ((verification_state)::text = 'VERIFIED'::text);
-- create index "domain_organization_id_domain" to table: "domains"
CREATE UNIQUE INDEX "domain_organization_id_domain" ON "domains" ("organization_id", "domain");
-- built-in roles' permissions are defined in tenants/authz; refresh the copies stored for display
UPDATE "roles" SET "permissions" = '["*"]' WHERE "builtin" = true AND "key" = 'owner';
UPDATE "roles" SET "permissions" = '["organization:read","organization:update","members:read","members:manage","roles:manage","domains:manage","connections:manage","policy:manage","audit:read","apikeys:manage"]' WHERE "builtin" = true AND "key" = 'admin';

-- +goose Down
-- reverse: refresh the built-in roles' stored permissions
UPDATE "roles" SET "permissions" = '["organization:read","organization:update","organization:delete","members:read","members:manage","roles:manage","domains:manage","connections:manage","policy:manage","audit:read"]' WHERE "builtin" = true AND "key" = 'owner';
UPDATE "roles" SET "permissions" = '["organization:read","organization:update","members:read","members:manage","domains:manage","connections:manage","policy:manage","audit:read"]' WHERE "builtin" = true AND "key" = 'admin';
-- reverse: create index "domain_organization_id_domain" to table: "domains"
DROP INDEX "domain_organization_id_domain";
-- reverse: create index "domain_domain" to table: "domains"
DROP INDEX "domain_domain";
-- reverse: drop index "domains_domain_key" from table: "domains"
CREATE UNIQUE INDEX "domains_domain_key" ON "domains" ("domain");
-- reverse: modify "api_keys" table
ALTER TABLE "api_keys" DROP COLUMN "created_by";
