-- 006_rollups_v2: rollups shaped for the pages that read them.
-- dash_source (003) had one row per (domain, day, reporter, source_ip,
-- header_from, alignment, disposition): about one row per record, an
-- 8-column key to write, and 2.4 s to aggregate for 30 days at 10M records
-- (measured).  It is replaced by:
--   dash_day     (domain, day, alignment, disposition): overview, meta and
--                the alignment series when no reporter is chosen (tiny).
--   dash_ip      (domain, day, source_ip): sources and failing sources of
--                one domain; header_from as sorted distinct arrays.
--   dash_ip_all  (day, source_ip): the same across all domains, so the
--                sources page of every domain aggregates one row per IP
--                and day.  No domain in its key: it is a rollup of
--                rollups, rebuilt from record if ever needed.
-- With a reporter chosen, sources read record through the reporter's
-- reports; a single IP's detail reads record (record_source_ip, 003).
-- daily (001, a view since 004) keeps its columns and content, now from
-- report and record: its reader (summary.c) bounds it by domain and day,
-- which reach report_day (003) and record's primary key.

-- The sorted union of two sorted distinct arrays.
CREATE FUNCTION dmarcd_text_union(a text[], b text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY(SELECT DISTINCT x FROM unnest(a || b) x ORDER BY 1) $$;

CREATE TABLE dash_day (
	domain		text NOT NULL,
	day		date NOT NULL,
	dkim_aligned	boolean NOT NULL,
	spf_aligned	boolean NOT NULL,
	disposition	text NOT NULL,
	messages	bigint NOT NULL,
	records		bigint NOT NULL,
	PRIMARY KEY (domain, day, dkim_aligned, spf_aligned, disposition)
);
-- overview and alignment of one reporter across domains
CREATE INDEX dash_summary_reporter ON dash_summary (reporter, day);

-- fail_* count the messages of records that are not DMARC aligned.
CREATE TABLE dash_ip (
	domain		text NOT NULL,
	day		date NOT NULL,
	source_ip	inet NOT NULL,
	messages	bigint NOT NULL,
	pass		bigint NOT NULL,
	fail_quarantine	bigint NOT NULL,
	fail_reject	bigint NOT NULL,
	records		bigint NOT NULL,
	header_from	text[] NOT NULL,	-- '' when absent
	fail_header_from text[] NOT NULL,	-- of failing records; '{}' none
	PRIMARY KEY (domain, day, source_ip)
);

CREATE TABLE dash_ip_all (
	day		date NOT NULL,
	source_ip	inet NOT NULL,
	messages	bigint NOT NULL,
	pass		bigint NOT NULL,
	fail_quarantine	bigint NOT NULL,
	fail_reject	bigint NOT NULL,
	records		bigint NOT NULL,
	header_from	text[] NOT NULL,
	fail_header_from text[] NOT NULL,
	domains		text[] NOT NULL,
	PRIMARY KEY (day, source_ip)
);

-- The existing data, from the tables being replaced.
INSERT INTO dash_day
SELECT domain, day, dkim_aligned, spf_aligned, disposition, sum(messages),
    sum(records)
FROM dash_summary GROUP BY 1, 2, 3, 4, 5;

INSERT INTO dash_ip
SELECT domain, day, source_ip, sum(messages),
    coalesce(sum(messages) FILTER (WHERE dkim_aligned OR spf_aligned), 0),
    coalesce(sum(messages) FILTER (WHERE NOT (dkim_aligned OR spf_aligned)
	AND disposition = 'quarantine'), 0),
    coalesce(sum(messages) FILTER (WHERE NOT (dkim_aligned OR spf_aligned)
	AND disposition = 'reject'), 0),
    sum(records), array_agg(DISTINCT header_from ORDER BY header_from),
    coalesce(array_agg(DISTINCT header_from ORDER BY header_from) FILTER
	(WHERE NOT (dkim_aligned OR spf_aligned)), '{}')
FROM dash_source GROUP BY 1, 2, 3;

INSERT INTO dash_ip_all
SELECT day, source_ip, sum(messages),
    coalesce(sum(messages) FILTER (WHERE dkim_aligned OR spf_aligned), 0),
    coalesce(sum(messages) FILTER (WHERE NOT (dkim_aligned OR spf_aligned)
	AND disposition = 'quarantine'), 0),
    coalesce(sum(messages) FILTER (WHERE NOT (dkim_aligned OR spf_aligned)
	AND disposition = 'reject'), 0),
    sum(records), array_agg(DISTINCT header_from ORDER BY header_from),
    coalesce(array_agg(DISTINCT header_from ORDER BY header_from) FILTER
	(WHERE NOT (dkim_aligned OR spf_aligned)), '{}'),
    array_agg(DISTINCT domain ORDER BY domain)
FROM dash_source GROUP BY 1, 2;

DROP VIEW daily;
DROP TABLE dash_source;

CREATE VIEW daily AS
SELECT r.domain, dmarcd_report_day(r.begin_time, r.end_time) AS day,
    c.source_ip, coalesce(c.header_from, '') AS header_from,
    coalesce(c.dkim = 'pass', false) AS dkim_aligned,
    coalesce(c.spf = 'pass', false) AS spf_aligned,
    coalesce(c.disposition, '') AS disposition,
    sum(c.count)::bigint AS messages, count(*)::bigint AS records
FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id
GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- As in 004, with the new tables: one statement, records read once, rows
-- locked in key order.
CREATE OR REPLACE FUNCTION dmarcd_rollup_set(p_domain text[], p_id bigint[])
    RETURNS void LANGUAGE sql SET work_mem = '64MB' AS $$
WITH r AS MATERIALIZED (
	SELECT r.domain, r.id, dmarcd_report_day(r.begin_time, r.end_time)
	    AS day, coalesce(r.org_name, '') AS reporter, r.messages,
	    r.n_records, r.received
	FROM (SELECT DISTINCT * FROM unnest(p_domain, p_id)) b(domain, id)
	JOIN report r ON r.domain = b.domain AND r.id = b.id
), c AS MATERIALIZED (
	SELECT r.domain, r.day, r.reporter, c.source_ip,
	    coalesce(c.header_from, '') AS header_from,
	    coalesce(c.dkim = 'pass', false) AS dkim_aligned,
	    coalesce(c.spf = 'pass', false) AS spf_aligned,
	    coalesce(c.disposition, '') AS disposition, c.count,
	    c.reason_type, c.dkim_domain, c.dkim_selector, c.dkim_result,
	    c.spf_domain, c.spf_scope, c.spf_result
	FROM r JOIN record c ON c.domain = r.domain AND c.report = r.id
), sm AS MATERIALIZED (
	SELECT domain, day, reporter, dkim_aligned, spf_aligned, disposition,
	    sum(count) AS messages, count(*) AS records
	FROM c GROUP BY 1, 2, 3, 4, 5, 6
), i_summary AS (
	INSERT INTO dash_summary
	SELECT * FROM sm ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (domain, day, reporter, dkim_aligned, spf_aligned,
	    disposition)
	DO UPDATE SET messages = dash_summary.messages + excluded.messages,
	    records = dash_summary.records + excluded.records
), i_day AS (
	INSERT INTO dash_day
	SELECT domain, day, dkim_aligned, spf_aligned, disposition,
	    sum(messages), sum(records)
	FROM sm GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
	ON CONFLICT (domain, day, dkim_aligned, spf_aligned, disposition)
	DO UPDATE SET messages = dash_day.messages + excluded.messages,
	    records = dash_day.records + excluded.records
), i_ip AS (
	INSERT INTO dash_ip
	SELECT domain, day, source_ip, sum(count),
	    coalesce(sum(count) FILTER (WHERE dkim_aligned OR spf_aligned), 0),
	    coalesce(sum(count) FILTER (WHERE NOT (dkim_aligned OR
		spf_aligned) AND disposition = 'quarantine'), 0),
	    coalesce(sum(count) FILTER (WHERE NOT (dkim_aligned OR
		spf_aligned) AND disposition = 'reject'), 0),
	    count(*), array_agg(DISTINCT header_from ORDER BY header_from),
	    coalesce(array_agg(DISTINCT header_from ORDER BY header_from)
		FILTER (WHERE NOT (dkim_aligned OR spf_aligned)), '{}')
	FROM c GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
	ON CONFLICT (domain, day, source_ip)
	DO UPDATE SET messages = dash_ip.messages + excluded.messages,
	    pass = dash_ip.pass + excluded.pass,
	    fail_quarantine = dash_ip.fail_quarantine +
		excluded.fail_quarantine,
	    fail_reject = dash_ip.fail_reject + excluded.fail_reject,
	    records = dash_ip.records + excluded.records,
	    header_from = dmarcd_text_union(dash_ip.header_from,
		excluded.header_from),
	    fail_header_from = dmarcd_text_union(dash_ip.fail_header_from,
		excluded.fail_header_from)
), i_ip_all AS (
	INSERT INTO dash_ip_all
	SELECT day, source_ip, sum(count),
	    coalesce(sum(count) FILTER (WHERE dkim_aligned OR spf_aligned), 0),
	    coalesce(sum(count) FILTER (WHERE NOT (dkim_aligned OR
		spf_aligned) AND disposition = 'quarantine'), 0),
	    coalesce(sum(count) FILTER (WHERE NOT (dkim_aligned OR
		spf_aligned) AND disposition = 'reject'), 0),
	    count(*), array_agg(DISTINCT header_from ORDER BY header_from),
	    coalesce(array_agg(DISTINCT header_from ORDER BY header_from)
		FILTER (WHERE NOT (dkim_aligned OR spf_aligned)), '{}'),
	    array_agg(DISTINCT domain ORDER BY domain)
	FROM c GROUP BY 1, 2 ORDER BY 1, 2
	ON CONFLICT (day, source_ip)
	DO UPDATE SET messages = dash_ip_all.messages + excluded.messages,
	    pass = dash_ip_all.pass + excluded.pass,
	    fail_quarantine = dash_ip_all.fail_quarantine +
		excluded.fail_quarantine,
	    fail_reject = dash_ip_all.fail_reject + excluded.fail_reject,
	    records = dash_ip_all.records + excluded.records,
	    header_from = dmarcd_text_union(dash_ip_all.header_from,
		excluded.header_from),
	    fail_header_from = dmarcd_text_union(dash_ip_all.fail_header_from,
		excluded.fail_header_from),
	    domains = dmarcd_text_union(dash_ip_all.domains, excluded.domains)
), i_auth AS (
	-- records share few distinct auth_results: group before unnesting
	INSERT INTO dash_auth
	SELECT g.domain, g.day, g.reporter, g.method, coalesce(a.d, ''),
	    coalesce(a.s, ''), coalesce(lower(a.res), ''), sum(g.messages)
	FROM (
		SELECT domain, day, reporter, 'dkim' AS method,
		    dkim_domain AS d, dkim_selector AS s, dkim_result AS res,
		    sum(count) AS messages
		FROM c GROUP BY 1, 2, 3, 5, 6, 7
		UNION ALL
		SELECT domain, day, reporter, 'spf', spf_domain, spf_scope,
		    spf_result, sum(count)
		FROM c GROUP BY 1, 2, 3, 5, 6, 7
	) g CROSS JOIN LATERAL unnest(g.d, g.s, g.res) AS a(d, s, res)
	GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
	ON CONFLICT (domain, day, reporter, method, auth_domain, selector,
	    result)
	DO UPDATE SET messages = dash_auth.messages + excluded.messages
), i_reason AS (
	INSERT INTO dash_reason
	SELECT g.domain, g.day, g.reporter, coalesce(lower(t.reason), ''),
	    g.dmarc_pass, g.disposition, sum(g.messages)
	FROM (
		SELECT domain, day, reporter, reason_type,
		    dkim_aligned OR spf_aligned AS dmarc_pass, disposition,
		    sum(count) AS messages
		FROM c GROUP BY 1, 2, 3, 4, 5, 6
	) g CROSS JOIN LATERAL unnest(CASE WHEN
	    cardinality(g.reason_type) = 0 THEN ARRAY[NULL::text]
	    ELSE g.reason_type END) AS t(reason)
	GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (domain, day, reporter, reason, dmarc_pass, disposition)
	DO UPDATE SET messages = dash_reason.messages + excluded.messages
)
INSERT INTO dash_reporter
SELECT domain, day, reporter, count(*), sum(messages), sum(n_records),
    max(received)
FROM r GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT (domain, day, reporter)
DO UPDATE SET reports = dash_reporter.reports + excluded.reports,
    messages = dash_reporter.messages + excluded.messages,
    records = dash_reporter.records + excluded.records,
    last_received = greatest(dash_reporter.last_received,
	excluded.last_received);
$$;
