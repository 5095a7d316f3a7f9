-- +goose Up
-- modify "domains" table
ALTER TABLE "domains" ADD COLUMN "last_checked_at" timestamptz NULL, ADD COLUMN "missing_since" timestamptz NULL;
-- create index "domain_last_checked_at" to table: "domains"
CREATE INDEX "domain_last_checked_at" ON "domains" ("last_checked_at") WHERE ((verification_state)::text = 'VERIFIED'::text);
-- create "domain_events" table
CREATE TABLE "domain_events" ("id" character varying NOT NULL, "type" character varying NOT NULL, "domain_id" character varying NOT NULL, "organization_id" character varying NOT NULL, "payload" jsonb NOT NULL, "created_at" timestamptz NOT NULL, "delivered_at" timestamptz NULL, PRIMARY KEY ("id"));
-- create index "domainevent_delivered_at_id" to table: "domain_events"
CREATE INDEX "domainevent_delivered_at_id" ON "domain_events" ("delivered_at", "id");
-- create index "domainevent_organization_id_id" to table: "domain_events"
CREATE INDEX "domainevent_organization_id_id" ON "domain_events" ("organization_id", "id");

-- +goose Down
-- reverse: create index "domainevent_organization_id_id" to table: "domain_events"
DROP INDEX "domainevent_organization_id_id";
-- reverse: create index "domainevent_delivered_at_id" to table: "domain_events"
DROP INDEX "domainevent_delivered_at_id";
-- reverse: create "domain_events" table
DROP TABLE "domain_events";
-- reverse: create index "domain_last_checked_at" to table: "domains"
DROP INDEX "domain_last_checked_at";
-- reverse: modify "domains" table
ALTER TABLE "domains" DROP COLUMN "missing_since", DROP COLUMN "last_checked_at";
