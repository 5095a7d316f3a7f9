-- +goose Up
-- modify "auth_requests" table
ALTER TABLE "auth_requests" ADD COLUMN "code_replayed_at" timestamptz NULL;

-- +goose Down
-- reverse: modify "auth_requests" table
ALTER TABLE "auth_requests" DROP COLUMN "code_replayed_at";
