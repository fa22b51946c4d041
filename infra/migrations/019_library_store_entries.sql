-- Library entries of store agents (another user's graph, added from an approved listing version).
ALTER TABLE rm_library_agents ADD COLUMN IF NOT EXISTS store_listing_version_id uuid;
CREATE INDEX IF NOT EXISTS rm_library_agents_listing_version ON rm_library_agents (store_listing_version_id)
    WHERE store_listing_version_id IS NOT NULL;
