-- Where each consumer group stands in the store (services/infra/checkpoints.py): a relay refilling
-- a topic the broker lost starts from the lowest point every subscribed group has finished.
-- Idempotent: runs on every start.

-- The logs each consumer group reads, recorded when it starts: a subscribed group without a
-- checkpoint holds a refill back to position 0.
CREATE TABLE IF NOT EXISTS consumer_subscriptions (
    consumer   text NOT NULL,
    log        text NOT NULL,
    since      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, log)
);

-- Every event of the partition up to position is finished by the group (below its committed offset).
CREATE TABLE IF NOT EXISTS consumer_checkpoints (
    consumer   text NOT NULL,
    log        text NOT NULL,
    partition  int NOT NULL,
    position   bigint NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, log, partition)
);

-- The partition count of the log's topic as the relay last published to it: checkpoints are per
-- partition, so they hold across a refill only into as many partitions.
ALTER TABLE relay_positions ADD COLUMN IF NOT EXISTS partitions int;
