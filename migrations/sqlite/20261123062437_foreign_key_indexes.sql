-- +goose Up
-- create index "apikey_organization_id_id" to table: "api_keys"
CREATE INDEX `apikey_organization_id_id` ON `api_keys` (`organization_id`, `id`);
-- create index "connection_organization_id_id" to table: "connections"
CREATE INDEX `connection_organization_id_id` ON `connections` (`organization_id`, `id`);
-- create index "domain_organization_id_id" to table: "domains"
CREATE INDEX `domain_organization_id_id` ON `domains` (`organization_id`, `id`);
-- create index "membershiproles_role_id" to table: "membership_roles"
CREATE INDEX `membershiproles_role_id` ON `membership_roles` (`role_id`);
-- create index "refreshtoken_grant_id" to table: "refresh_tokens"
CREATE INDEX `refreshtoken_grant_id` ON `refresh_tokens` (`grant_id`);

-- +goose Down
-- reverse: create index "refreshtoken_grant_id" to table: "refresh_tokens"
DROP INDEX `refreshtoken_grant_id`;
-- reverse: create index "membershiproles_role_id" to table: "membership_roles"
DROP INDEX `membershiproles_role_id`;
-- reverse: create index "domain_organization_id_id" to table: "domains"
DROP INDEX `domain_organization_id_id`;
-- reverse: create index "connection_organization_id_id" to table: "connections"
DROP INDEX `connection_organization_id_id`;
-- reverse: create index "apikey_organization_id_id" to table: "api_keys"
DROP INDEX `apikey_organization_id_id`;
