-- 0007: the durable event log behind every websocket channel (see docs/design.md).
--
-- channel_heads.seq is the last sequence handed out on a channel; the row lock taken by
-- append_event orders the writers of one channel, so seq order is commit order.
-- channel_heads.trimmed_seq is the highest sequence pruned: a resume from `since` is possible
-- while since >= trimmed_seq, otherwise the client gets `reset`.

CREATE TABLE realtime.channel_heads (
    channel text PRIMARY KEY,
    seq bigint NOT NULL DEFAULT 0,
    trimmed_seq bigint NOT NULL DEFAULT 0
);

CREATE TABLE realtime.events (
    channel text NOT NULL,
    seq bigint NOT NULL,
    event text NOT NULL,
    data jsonb NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (channel, seq)
);

CREATE INDEX idx_realtime_events_created ON realtime.events (created_at);

-- Appends one event and notifies `hub_events` (delivered at commit, in commit order).
-- Payload: {"c": channel, "s": seq, "e": event, "d": data, "t": created_at}; when that would pass
-- 7,900 bytes, {"c": channel, "s": seq} only and the listener reads the row.
-- TimeZone is pinned to UTC so "t" is always rendered as ...+00:00.
CREATE OR REPLACE FUNCTION realtime.append_event(p_channel text, p_event text, p_data jsonb)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
    SET "TimeZone" = 'UTC'
AS $$
DECLARE
    v_seq bigint;
    v_created timestamptz;
    v_payload text;
BEGIN
    INSERT INTO realtime.channel_heads AS h (channel, seq)
    VALUES (p_channel, 1)
    ON CONFLICT (channel) DO UPDATE SET seq = h.seq + 1
    RETURNING h.seq INTO v_seq;

    INSERT INTO realtime.events (channel, seq, event, data)
    VALUES (p_channel, v_seq, p_event, p_data)
    RETURNING created_at INTO v_created;

    v_payload := json_build_object('c', p_channel, 's', v_seq, 'e', p_event, 'd', p_data, 't', v_created)::text;
    IF octet_length(v_payload) > 7900 THEN
        v_payload := json_build_object('c', p_channel, 's', v_seq)::text;
    END IF;
    PERFORM pg_notify('hub_events', v_payload);
    RETURN v_seq;
END
$$;
REVOKE ALL ON FUNCTION realtime.append_event(text, text, jsonb) FROM PUBLIC;

-- Prunes by age and by count: on each channel deletes every event with seq <= the larger of
-- (head - p_keep) and (the newest seq older than p_max_age), i.e. always a prefix of the log, and
-- advances trimmed_seq to the highest deleted seq. NULL p_max_age / p_keep disable that rule.
-- Returns the number of events deleted.
CREATE OR REPLACE FUNCTION realtime.prune_events(p_max_age interval, p_keep integer)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, public
AS $$
DECLARE
    v_deleted bigint;
BEGIN
    IF p_keep IS NOT NULL AND p_keep < 0 THEN
        RAISE EXCEPTION 'p_keep must be >= 0, got %', p_keep USING ERRCODE = 'invalid_parameter_value';
    END IF;

    WITH by_age AS (
        SELECT e.channel, max(e.seq) AS upto
        FROM realtime.events e
        WHERE p_max_age IS NOT NULL AND e.created_at < clock_timestamp() - p_max_age
        GROUP BY e.channel
    ), by_count AS (
        SELECT h.channel, h.seq - p_keep AS upto
        FROM realtime.channel_heads h
        WHERE p_keep IS NOT NULL AND h.seq - p_keep > h.trimmed_seq
    ), cut AS (
        SELECT channel, max(upto) AS upto
        FROM (SELECT * FROM by_age UNION ALL SELECT * FROM by_count) c
        GROUP BY channel
    ), del AS (
        DELETE FROM realtime.events e
        USING cut
        WHERE e.channel = cut.channel AND e.seq <= cut.upto
        RETURNING e.channel, e.seq
    ), trimmed AS (
        UPDATE realtime.channel_heads h
           SET trimmed_seq = greatest(h.trimmed_seq, d.max_seq)
          FROM (SELECT channel, max(seq) AS max_seq FROM del GROUP BY channel) d
         WHERE h.channel = d.channel
        RETURNING 1
    )
    SELECT count(*) INTO v_deleted FROM del;

    RETURN v_deleted;
END
$$;
REVOKE ALL ON FUNCTION realtime.prune_events(interval, integer) FROM PUBLIC;
