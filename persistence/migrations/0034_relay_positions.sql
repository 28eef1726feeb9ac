-- 0034: relay mode (FANOUT=relay). The elected relay publishes each committed event to its channel's Redis
-- Cluster shard and records here, per channel, the last sequence it published. A relay that takes over
-- republishes from these positions (and, for channels with no row yet, the log's events since shortly before
-- the last recorded publish), so a failover loses nothing; instances drop repeats by sequence.
CREATE TABLE realtime.relay_positions (
    channel text PRIMARY KEY,
    seq bigint NOT NULL,
    relayed_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE realtime.relay_positions ENABLE ROW LEVEL SECURITY;
REVOKE ALL ON realtime.relay_positions FROM PUBLIC, anon, authenticated;
GRANT ALL ON realtime.relay_positions TO service_role;
