-- Large node output values, stored out of line (services/common/blobs.py). Content-addressed
-- per owner: the key is (owner_id, sha256 of the value's JSON), so the same value written twice
-- is one row (inserts are idempotent) and a reference can only ever be resolved against its
-- owner's own rows. A blob commits before the event that references it.
CREATE TABLE IF NOT EXISTS blobs (
    owner_id    text NOT NULL,
    sha256      text NOT NULL,            -- hex digest of data
    size        bigint NOT NULL,          -- len(data)
    data        bytea NOT NULL,           -- the value as JSON (UTF-8)
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (owner_id, sha256)
);
