-- +goose Up
-- (edited by hand) spent tokens, used_at set, have no successor row to mark
-- them spent: delete them, so that presented again they are unknown (invalid_grant)
DELETE FROM "refresh_tokens" WHERE "used_at" IS NOT NULL;
-- modify "refresh_tokens" table
ALTER TABLE "refresh_tokens" DROP COLUMN "used_at", ADD COLUMN "parent_id" character varying NULL;
-- create index "refresh_tokens_parent_id_key" to table: "refresh_tokens"
CREATE UNIQUE INDEX "refresh_tokens_parent_id_key" ON "refresh_tokens" ("parent_id");

-- +goose Down
-- reverse: create index "refresh_tokens_parent_id_key" to table: "refresh_tokens"
DROP INDEX "refresh_tokens_parent_id_key";
-- reverse: modify "refresh_tokens" table
ALTER TABLE "refresh_tokens" DROP COLUMN "parent_id", ADD COLUMN "used_at" timestamptz NULL;
