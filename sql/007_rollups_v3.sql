-- 007_rollups_v3: the alignment page and the sources of every domain
-- without reading the reporter dimension or every (day, IP).
-- At 10M records, alignment of 30 days read dash_auth (~1M rows) and
-- dash_reason (~600k), which carry the reporter: 569 ms p95 (measured).
--   dash_auth_day    dash_auth without the reporter
--   dash_reason_day  dash_reason without the reporter
-- read unless a reporter is chosen, as dash_day is read before
-- dash_summary (006).
-- The sources of every domain (and the failing sources) choose their page
-- from the sums of dash_ip_all, then gather header_from and domains for
-- that page's IPs only: dash_ip_all_ip finds them, where that second pass
-- read every (day, IP) of the period again.

CREATE TABLE dash_auth_day (
	domain		text NOT NULL,
	day		date NOT NULL,
	method		text NOT NULL,	-- 'dkim' or 'spf'
	auth_domain	text NOT NULL,
	selector	text NOT NULL,
	result		text NOT NULL,
	messages	bigint NOT NULL,
	PRIMARY KEY (domain, day, method, auth_domain, selector, result)
);

CREATE TABLE dash_reason_day (
	domain		text NOT NULL,
	day		date NOT NULL,
	reason		text NOT NULL,
	dmarc_pass	boolean NOT NULL,
	disposition	text NOT NULL,
	messages	bigint NOT NULL,
	PRIMARY KEY (domain, day, reason, dmarc_pass, disposition)
);

CREATE INDEX dash_ip_all_ip ON dash_ip_all (source_ip, day);

-- The existing data, from the tables with the reporter.
INSERT INTO dash_auth_day
SELECT domain, day, method, auth_domain, selector, result, sum(messages)
FROM dash_auth GROUP BY 1, 2, 3, 4, 5, 6;

INSERT INTO dash_reason_day
SELECT domain, day, reason, dmarc_pass, disposition, sum(messages)
FROM dash_reason GROUP BY 1, 2, 3, 4, 5;

-- As in 006, writing the new tables too: the grouped auth results and
-- reasons are computed once for both of their tables.
-- PL/pgSQL, not SQL: a SQL function plans its statement on every call
-- (2-3 ms for this one even with no rows), which an LMTP delivery, a
-- transaction of one message, pays each time; PL/pgSQL keeps the plan for
-- the session.
CREATE OR REPLACE FUNCTION dmarcd_rollup_set(p_domain text[], p_id bigint[])
    RETURNS void LANGUAGE plpgsql SET work_mem = '64MB' AS $$
BEGIN
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
), au AS MATERIALIZED (
	-- records share few distinct auth_results: group before unnesting
	SELECT g.domain, g.day, g.reporter, g.method, coalesce(a.d, '') AS d,
	    coalesce(a.s, '') AS s, coalesce(lower(a.res), '') AS res,
	    sum(g.messages) AS messages
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
	GROUP BY 1, 2, 3, 4, 5, 6, 7
), i_auth AS (
	INSERT INTO dash_auth
	SELECT * FROM au ORDER BY 1, 2, 3, 4, 5, 6, 7
	ON CONFLICT (domain, day, reporter, method, auth_domain, selector,
	    result)
	DO UPDATE SET messages = dash_auth.messages + excluded.messages
), i_auth_day AS (
	INSERT INTO dash_auth_day
	SELECT domain, day, method, d, s, res, sum(messages)
	FROM au GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (domain, day, method, auth_domain, selector, result)
	DO UPDATE SET messages = dash_auth_day.messages + excluded.messages
), re AS MATERIALIZED (
	SELECT g.domain, g.day, g.reporter, coalesce(lower(t.reason), '')
	    AS reason, g.dmarc_pass, g.disposition, sum(g.messages) AS messages
	FROM (
		SELECT domain, day, reporter, reason_type,
		    dkim_aligned OR spf_aligned AS dmarc_pass, disposition,
		    sum(count) AS messages
		FROM c GROUP BY 1, 2, 3, 4, 5, 6
	) g CROSS JOIN LATERAL unnest(CASE WHEN
	    cardinality(g.reason_type) = 0 THEN ARRAY[NULL::text]
	    ELSE g.reason_type END) AS t(reason)
	GROUP BY 1, 2, 3, 4, 5, 6
), i_reason AS (
	INSERT INTO dash_reason
	SELECT * FROM re ORDER BY 1, 2, 3, 4, 5, 6
	ON CONFLICT (domain, day, reporter, reason, dmarc_pass, disposition)
	DO UPDATE SET messages = dash_reason.messages + excluded.messages
), i_reason_day AS (
	INSERT INTO dash_reason_day
	SELECT domain, day, reason, dmarc_pass, disposition, sum(messages)
	FROM re GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
	ON CONFLICT (domain, day, reason, dmarc_pass, disposition)
	DO UPDATE SET messages = dash_reason_day.messages + excluded.messages
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
END;
$$;

-- The same for the end of a store transaction (004's, in PL/pgSQL).
CREATE OR REPLACE FUNCTION dmarcd_store_reports(p_domain text[],
    p_id bigint[], p_records bigint[], p_messages bigint[],
    p_sha256 text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	UPDATE report r SET n_records = b.n, messages = b.m,
	    sha256 = decode(b.h, 'hex')
	FROM unnest(p_domain, p_id, p_records, p_messages, p_sha256)
	    AS b(domain, id, n, m, h)
	WHERE r.domain = b.domain AND r.id = b.id;
	PERFORM dmarcd_rollup_set(p_domain, p_id);
END;
$$;
