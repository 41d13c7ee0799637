-- 008_rollup_queue: rollups folded just after the commit, for many small
-- concurrent transactions.  LMTP delivers one message per transaction from
-- several threads; when each of them adds its report to the rollups, they
-- all update the same rows (a domain's day, a reporter's day) and wait on
-- each other's row locks until each commit: deliveries serialise.  Instead,
-- such a transaction only queues its reports here (no shared row), and one
-- folder adds what is queued to the rollups every moment.  Batched ingest
-- still rolls up in its own transaction.
CREATE TABLE rollup_queue (
	domain		text NOT NULL,
	report		bigint NOT NULL,
	PRIMARY KEY (domain, report)
);

-- The end of a store transaction whose rollups are folded later.
CREATE FUNCTION dmarcd_store_reports_later(p_domain text[], p_id bigint[],
    p_records bigint[], p_messages bigint[], p_sha256 text[])
    RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	UPDATE report r SET n_records = b.n, messages = b.m,
	    sha256 = decode(b.h, 'hex')
	FROM unnest(p_domain, p_id, p_records, p_messages, p_sha256)
	    AS b(domain, id, n, m, h)
	WHERE r.domain = b.domain AND r.id = b.id;
	INSERT INTO rollup_queue
	SELECT DISTINCT * FROM unnest(p_domain, p_id)
	ON CONFLICT DO NOTHING;
END;
$$;

-- Adds at most p_max queued reports to the rollups; returns how many.
-- Several folders may run at once: each takes the rows it deletes.
CREATE FUNCTION dmarcd_rollup_queued(p_max integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
	d	text[];
	i	bigint[];
BEGIN
	WITH q AS (
		DELETE FROM rollup_queue WHERE (domain, report) IN (
			SELECT domain, report FROM rollup_queue
			ORDER BY domain, report LIMIT p_max
			FOR UPDATE SKIP LOCKED)
		RETURNING domain, report
	)
	SELECT array_agg(domain), array_agg(report) INTO d, i FROM q;
	IF d IS NULL THEN
		RETURN 0;
	END IF;
	PERFORM dmarcd_rollup_set(d, i);
	RETURN cardinality(d);
END;
$$;
