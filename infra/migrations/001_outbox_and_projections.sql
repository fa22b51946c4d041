-- Outbox relay positions and projection bookkeeping. Idempotent: runs on every start.

CREATE TABLE IF NOT EXISTS relay_positions (
    log        text PRIMARY KEY,
    position   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Last position the relay published to each partition (for read fences), and the Kafka offset
-- the broker gave it (an end offset below it later means the broker lost data).
CREATE TABLE IF NOT EXISTS relay_partitions (
    log          text NOT NULL,
    partition    int NOT NULL,
    position     bigint NOT NULL,
    kafka_offset bigint NOT NULL DEFAULT -1,
    PRIMARY KEY (log, partition)
);

-- Last position a projection applied from each partition, written with its read-model changes.
CREATE TABLE IF NOT EXISTS projection_partitions (
    projection text NOT NULL,
    log        text NOT NULL,
    partition  int NOT NULL,
    position   bigint NOT NULL,
    PRIMARY KEY (projection, log, partition)
);

-- Highest stream version a projection applied, per stream: makes redelivery harmless.
CREATE TABLE IF NOT EXISTS projection_streams (
    projection text NOT NULL,
    stream_id  uuid NOT NULL,
    version    bigint NOT NULL,
    PRIMARY KEY (projection, stream_id)
);
