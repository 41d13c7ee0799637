-- 004_batch_rollup: rollups once per transaction instead of once per report.
-- The per-report trigger of 003 ran five join-and-aggregate inserts for
-- every report and the store one more for daily: 85% of ingest time
-- (measured).  The store now hands the reports of a transaction over at its
-- end, and dmarcd_store_reports() sets their totals and rolls them all up in
-- one statement per table.  Reports rolled back to a SAVEPOINT in between
-- are simply not found, so the rollups count exactly what commits.

DROP TRIGGER report_rollup ON report;
DROP FUNCTION dmarcd_rollup_trigger();

-- daily (001) held dash_source's rows without the reporter: writing both
-- doubled the rollup's cost.  It is now that sum, with the same columns
-- and content; its readers (summary.c) filter on domain and day, which
-- reach dash_source's primary key.
DROP TABLE daily;
CREATE VIEW daily AS
SELECT domain, day, source_ip, header_from, dkim_aligned, spf_aligned,
    disposition, sum(messages)::bigint AS messages,
    sum(records)::bigint AS records
FROM dash_source GROUP BY 1, 2, 3, 4, 5, 6, 7;

-- Adds the reports (p_domain[i], p_id[i]) to the dash_* rollups,
-- from their report and record rows; ids not found are skipped.  Each
-- report must be added once.  One statement: the records are read once;
-- ORDER BY takes row locks in one order under concurrent ingests.
CREATE FUNCTION dmarcd_rollup_set(p_domain text[], p_id bigint[])
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
), s AS MATERIALIZED (
	SELECT domain, day, reporter, source_ip, header_from, dkim_aligned,
	    spf_aligned, disposition, sum(count) AS messages,
	    count(*) AS records
	FROM c GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
), i_source AS (
	INSERT INTO dash_source
	SELECT * FROM s ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
	ON CONFLICT (domain, day, reporter, source_ip, header_from,
	    dkim_aligned, spf_aligned, disposition)
	DO UPDATE SET messages = dash_source.messages + excluded.messages,
	    records = dash_source.records + excluded.records
), i_summary AS (
	INSERT INTO dash_summary
	SELECT domain, day, reporter, dkim_aligned, spf_aligned, disposition,
	    sum(messages), sum(records)
	FROM s GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (domain, day, reporter, dkim_aligned, spf_aligned,
	    disposition)
	DO UPDATE SET messages = dash_summary.messages + excluded.messages,
	    records = dash_summary.records + excluded.records
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

-- The end of a transaction of the store: each report's totals and sha256
-- (hex), then the rollups.  Reports rolled back since are not found.
CREATE FUNCTION dmarcd_store_reports(p_domain text[], p_id bigint[],
    p_records bigint[], p_messages bigint[], p_sha256 text[])
    RETURNS void LANGUAGE sql AS $$
UPDATE report r SET n_records = b.n, messages = b.m,
    sha256 = decode(b.h, 'hex')
FROM unnest(p_domain, p_id, p_records, p_messages, p_sha256)
    AS b(domain, id, n, m, h)
WHERE r.domain = b.domain AND r.id = b.id;
SELECT dmarcd_rollup_set(p_domain, p_id);
$$;

-- 003's entry points, for tools that roll reports up by id range.
CREATE OR REPLACE FUNCTION dmarcd_rollup_reports(p_domain text,
    p_first bigint, p_last bigint) RETURNS void LANGUAGE sql AS $$
SELECT dmarcd_rollup_set(array_agg(domain), array_agg(id))
FROM report WHERE domain = p_domain AND id BETWEEN p_first AND p_last;
$$;
