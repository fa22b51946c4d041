-- Read models of the store context (rebuilt from the store and executions logs): creator profiles,
-- listings with the texts and search vector of their active version, every listing version, users'
-- reviews, graph-version publications, and run counts per graph and user.

CREATE TABLE IF NOT EXISTS rm_store_profiles (
    user_id      text PRIMARY KEY,
    username     text NOT NULL,
    name         text NOT NULL DEFAULT '',
    description  text NOT NULL DEFAULT '',
    links        jsonb NOT NULL DEFAULT '[]'::jsonb,
    avatar_url   text,
    is_featured  boolean NOT NULL DEFAULT false,   -- no event sets it yet (AutoGPT: a manual admin flag)
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL
);
-- Not unique: the write side guarantees uniqueness, and while a username moves from one user to
-- another the two profile streams may be projected in either order.
CREATE INDEX IF NOT EXISTS rm_store_profiles_username ON rm_store_profiles (lower(username));

CREATE TABLE IF NOT EXISTS rm_store_listings (
    listing_id            uuid PRIMARY KEY,
    graph_id              uuid NOT NULL,
    owner_id              text NOT NULL,
    slug                  text NOT NULL,
    featured              boolean NOT NULL DEFAULT false,
    active_version_id     uuid,                 -- the most recently approved version still approved
    has_approved_version  boolean NOT NULL DEFAULT false,
    runs                  bigint NOT NULL DEFAULT 0,      -- runs of the graph by users other than its owner
    rating                double precision NOT NULL DEFAULT 0,  -- mean score over reviews of approved versions
    review_count          int NOT NULL DEFAULT 0,
    -- the active version's texts (empty while there is none) and their search vector
    name                  text NOT NULL DEFAULT '',
    sub_heading           text NOT NULL DEFAULT '',
    description           text NOT NULL DEFAULT '',
    categories            text[] NOT NULL DEFAULT '{}',
    image                 text NOT NULL DEFAULT '',
    search                tsvector NOT NULL DEFAULT ''::tsvector,
    created_at            timestamptz NOT NULL,
    updated_at            timestamptz NOT NULL  -- when the active version last changed
);
-- fastupdate off: with a pending list (filled by a projection catching up or a rebuild) the planner
-- prices the index so high that it scans the table instead, until a vacuum empties the list.
CREATE INDEX IF NOT EXISTS rm_store_listings_search ON rm_store_listings USING gin (search)
    WITH (fastupdate = off) WHERE has_approved_version;
CREATE INDEX IF NOT EXISTS rm_store_listings_recent ON rm_store_listings (updated_at DESC, listing_id)
    WHERE has_approved_version;
CREATE INDEX IF NOT EXISTS rm_store_listings_owner ON rm_store_listings (owner_id, slug);
CREATE INDEX IF NOT EXISTS rm_store_listings_graph ON rm_store_listings (graph_id);
CREATE INDEX IF NOT EXISTS rm_store_listings_created ON rm_store_listings (created_at DESC, listing_id);

CREATE TABLE IF NOT EXISTS rm_store_listing_versions (
    listing_version_id         uuid PRIMARY KEY,
    listing_id                 uuid NOT NULL,
    owner_id                   text NOT NULL,
    version                    int NOT NULL,
    graph_id                   uuid NOT NULL,
    graph_version              bigint NOT NULL,
    name                       text NOT NULL,
    sub_heading                text NOT NULL DEFAULT '',
    description                text NOT NULL DEFAULT '',
    instructions               text,
    categories                 text[] NOT NULL DEFAULT '{}',
    image_urls                 text[] NOT NULL DEFAULT '{}',
    video_url                  text,
    agent_output_demo_url      text,
    changes_summary            text,
    recommended_schedule_cron  text,
    status                     text NOT NULL DEFAULT 'PENDING',
    approved_seq               bigint,          -- the listing stream's version of the approval (latest wins)
    reviewed_at                timestamptz,
    reviewer_id                text,
    review_comments            text,
    internal_comments          text,
    withdrawn                  boolean NOT NULL DEFAULT false,
    submitted_at               timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rm_store_listing_versions_listing ON rm_store_listing_versions (listing_id, version);
CREATE INDEX IF NOT EXISTS rm_store_listing_versions_owner ON rm_store_listing_versions (owner_id, submitted_at DESC);

CREATE TABLE IF NOT EXISTS rm_store_reviews (
    user_id             text NOT NULL,
    listing_version_id  uuid NOT NULL,
    listing_id          uuid NOT NULL,
    score               int NOT NULL,
    comments            text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (user_id, listing_version_id)
);
CREATE INDEX IF NOT EXISTS rm_store_reviews_listing ON rm_store_reviews (listing_id);
CREATE INDEX IF NOT EXISTS rm_store_reviews_version ON rm_store_reviews (listing_version_id);

-- A graph version is published while some approved listing version publishes it (a row here); an
-- approval publishes the agent's graph version and those of the creator's graphs it runs as sub-agents.
CREATE TABLE IF NOT EXISTS rm_store_publications (
    graph_id            uuid NOT NULL,
    graph_version       bigint NOT NULL,
    listing_version_id  uuid NOT NULL,
    published_at        timestamptz NOT NULL,
    PRIMARY KEY (graph_id, graph_version, listing_version_id)
);

-- Runs (not dry runs) per graph and user, from the executions log: a listing's runs are those of
-- users other than its owner, so which log is projected first does not change the figure.
CREATE TABLE IF NOT EXISTS rm_store_graph_runs (
    graph_id  uuid NOT NULL,
    user_id   text NOT NULL,
    runs      bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (graph_id, user_id)
);
