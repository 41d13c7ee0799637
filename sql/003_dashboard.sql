-- 003_dashboard: rollups the dashboard (dmarcd serve) reads, so no page
-- scans record.  Each is keyed by (domain, day, reporter, ...) because every
-- page filters by domain, period and reporter; daily (001) has no reporter.
-- The day is daily's: the UTC date of the middle of the report's period.
-- The reporter is the org_name ('' when absent).  Filled per report by
-- dmarcd_rollup_report(), run by a trigger when the store finishes a report.

-- The rollup day of a report (same as store.c's report_day()).
CREATE FUNCTION dmarcd_report_day(b timestamptz, e timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ((b AT TIME ZONE 'UTC') + (e - b) / 2)::date $$;

CREATE INDEX report_day ON report (domain, dmarcd_report_day(begin_time,
    end_time));
CREATE INDEX report_reporter ON report (coalesce(org_name, ''));
-- Sources drill-down: the records of one IP.
CREATE INDEX record_source_ip ON record (source_ip);

-- Overview: messages by alignment and disposition.
CREATE TABLE dash_summary (
	domain		text NOT NULL,
	day		date NOT NULL,
	reporter	text NOT NULL,
	dkim_aligned	boolean NOT NULL,
	spf_aligned	boolean NOT NULL,
	disposition	text NOT NULL,
	messages	bigint NOT NULL,
	records		bigint NOT NULL,
	PRIMARY KEY (domain, day, reporter, dkim_aligned, spf_aligned,
	    disposition)
);

-- Sources: daily with the reporter.
CREATE TABLE dash_source (
	domain		text NOT NULL,
	day		date NOT NULL,
	reporter	text NOT NULL,
	source_ip	inet NOT NULL,
	header_from	text NOT NULL,
	dkim_aligned	boolean NOT NULL,
	spf_aligned	boolean NOT NULL,
	disposition	text NOT NULL,
	messages	bigint NOT NULL,
	records		bigint NOT NULL,
	PRIMARY KEY (domain, day, reporter, source_ip, header_from,
	    dkim_aligned, spf_aligned, disposition)
);

-- Alignment: each DKIM signature and SPF check (auth_results), so a record
-- with two signatures counts its messages once per signature.  selector is
-- the SPF scope for SPF.
CREATE TABLE dash_auth (
	domain		text NOT NULL,
	day		date NOT NULL,
	reporter	text NOT NULL,
	method		text NOT NULL,	-- 'dkim' or 'spf'
	auth_domain	text NOT NULL,
	selector	text NOT NULL,
	result		text NOT NULL,
	messages	bigint NOT NULL,
	PRIMARY KEY (domain, day, reporter, method, auth_domain, selector,
	    result)
);

-- Policy overrides (forwarded, mailing_list, ...); '' for none.
CREATE TABLE dash_reason (
	domain		text NOT NULL,
	day		date NOT NULL,
	reporter	text NOT NULL,
	reason		text NOT NULL,
	dmarc_pass	boolean NOT NULL,
	disposition	text NOT NULL,
	messages	bigint NOT NULL,
	PRIMARY KEY (domain, day, reporter, reason, dmarc_pass, disposition)
);

-- Reporters: reports per day, and when they last arrived.
CREATE TABLE dash_reporter (
	domain		text NOT NULL,
	day		date NOT NULL,
	reporter	text NOT NULL,
	reports		bigint NOT NULL,
	messages	bigint NOT NULL,
	records		bigint NOT NULL,
	last_received	timestamptz NOT NULL,
	PRIMARY KEY (domain, day, reporter)
);

-- Adds the reports p_first..p_last of p_domain (ids) to the rollups, once
-- per report, after its records and totals; ORDER BY takes row locks in one
-- order under concurrent ingests.
CREATE FUNCTION dmarcd_rollup_reports(p_domain text, p_first bigint,
    p_last bigint) RETURNS void LANGUAGE sql AS $$
INSERT INTO dash_summary
SELECT r.domain, dmarcd_report_day(r.begin_time, r.end_time),
    coalesce(r.org_name, ''), coalesce(c.dkim = 'pass', false),
    coalesce(c.spf = 'pass', false), coalesce(c.disposition, ''),
    sum(c.count), count(*)
FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id
WHERE r.domain = p_domain AND r.id BETWEEN p_first AND p_last
GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (domain, day, reporter, dkim_aligned, spf_aligned, disposition)
DO UPDATE SET messages = dash_summary.messages + excluded.messages,
    records = dash_summary.records + excluded.records;

INSERT INTO dash_source
SELECT r.domain, dmarcd_report_day(r.begin_time, r.end_time),
    coalesce(r.org_name, ''), c.source_ip, coalesce(c.header_from, ''),
    coalesce(c.dkim = 'pass', false), coalesce(c.spf = 'pass', false),
    coalesce(c.disposition, ''), sum(c.count), count(*)
FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id
WHERE r.domain = p_domain AND r.id BETWEEN p_first AND p_last
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8 ORDER BY 1, 2, 3, 4, 5, 6, 7, 8
ON CONFLICT (domain, day, reporter, source_ip, header_from, dkim_aligned,
    spf_aligned, disposition)
DO UPDATE SET messages = dash_source.messages + excluded.messages,
    records = dash_source.records + excluded.records;

INSERT INTO dash_auth
SELECT r.domain, dmarcd_report_day(r.begin_time, r.end_time),
    coalesce(r.org_name, ''), a.method, coalesce(a.d, ''), coalesce(a.s, ''),
    coalesce(lower(a.res), ''), sum(c.count)
FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id
CROSS JOIN LATERAL (
	SELECT 'dkim' AS method, d, s, res
	FROM unnest(c.dkim_domain, c.dkim_selector, c.dkim_result) AS k(d, s, res)
	UNION ALL
	SELECT 'spf', d, s, res
	FROM unnest(c.spf_domain, c.spf_scope, c.spf_result) AS f(d, s, res)
) a
WHERE r.domain = p_domain AND r.id BETWEEN p_first AND p_last
GROUP BY 1, 2, 3, 4, 5, 6, 7 ORDER BY 1, 2, 3, 4, 5, 6, 7
ON CONFLICT (domain, day, reporter, method, auth_domain, selector, result)
DO UPDATE SET messages = dash_auth.messages + excluded.messages;

INSERT INTO dash_reason
SELECT r.domain, dmarcd_report_day(r.begin_time, r.end_time),
    coalesce(r.org_name, ''), coalesce(lower(t.reason), ''),
    coalesce(c.dkim = 'pass' OR c.spf = 'pass', false),
    coalesce(c.disposition, ''), sum(c.count)
FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id
CROSS JOIN LATERAL unnest(CASE WHEN cardinality(c.reason_type) = 0
    THEN ARRAY[NULL::text] ELSE c.reason_type END) AS t(reason)
WHERE r.domain = p_domain AND r.id BETWEEN p_first AND p_last
GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1, 2, 3, 4, 5, 6
ON CONFLICT (domain, day, reporter, reason, dmarc_pass, disposition)
DO UPDATE SET messages = dash_reason.messages + excluded.messages;

INSERT INTO dash_reporter
SELECT r.domain, dmarcd_report_day(r.begin_time, r.end_time),
    coalesce(r.org_name, ''), count(*), sum(r.messages), sum(r.n_records),
    max(r.received)
FROM report r
WHERE r.domain = p_domain AND r.id BETWEEN p_first AND p_last
GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
ON CONFLICT (domain, day, reporter)
DO UPDATE SET reports = dash_reporter.reports + excluded.reports,
    messages = dash_reporter.messages + excluded.messages,
    records = dash_reporter.records + excluded.records,
    last_received = greatest(dash_reporter.last_received,
	excluded.last_received);
$$;

-- One report.
CREATE FUNCTION dmarcd_rollup_report(p_domain text, p_report bigint)
    RETURNS void LANGUAGE sql
    AS $$ SELECT dmarcd_rollup_reports(p_domain, p_report, p_report) $$;

-- The store sets a report's totals and sha256 once, after its records: that
-- update rolls the report up, whoever stored it, with no change to db/.
CREATE FUNCTION dmarcd_rollup_trigger() RETURNS trigger LANGUAGE plpgsql
    AS $$
BEGIN
	PERFORM dmarcd_rollup_report(NEW.domain, NEW.id);
	RETURN NULL;
END $$;

CREATE TRIGGER report_rollup AFTER UPDATE OF sha256 ON report
    FOR EACH ROW WHEN (OLD.sha256 IS NULL AND NEW.sha256 IS NOT NULL)
    EXECUTE FUNCTION dmarcd_rollup_trigger();

-- Reports stored before this migration.
SELECT dmarcd_rollup_reports(d.domain, 0, 9223372036854775807)
FROM (SELECT DISTINCT domain FROM report ORDER BY 1) d;
