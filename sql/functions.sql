-- functions.sql: the code dmarcd keeps in the database: views, the rollup
-- functions, the store's end-of-transaction calls, the triggers.  Not a
-- migration: each statement replaces what it defines, and dmarcd applies
-- the whole file, after the migrations and under their lock, whenever the
-- database's copy differs from its own (db/migrate.c).  So a change here
-- needs no migration, with two exceptions: a signature or a view's columns
-- that change need a DROP first, here; and a function an index is built on
-- is in the schema (sql/0NN_*.sql), as is whatever a migration needs.
-- Rollups are derived data: a change to what they count should rebuild
-- them (a migration).

-- --- what the figures mean ---------------------------------------------------
-- One definition each, used by the rollups, the views and every query of
-- the dashboard and the summary.  Simple IMMUTABLE SQL functions: the
-- planner inlines them, so a query reads as if the expression were
-- written out.  What they decide is stored in the rollups: a change to one
-- goes with a migration that rebuilds those.

-- Whether a record's policy_evaluated dkim or spf result makes it aligned:
-- 'pass', as reported; absent is not.
CREATE OR REPLACE FUNCTION dmarcd_aligned(r text) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT coalesce(r = 'pass', false) $$;

-- DMARC passes when DKIM or SPF passes aligned (RFC 7489 6.6.2); of the
-- rollups' dkim_aligned and spf_aligned.
CREATE OR REPLACE FUNCTION dmarcd_pass(dkim_aligned boolean,
    spf_aligned boolean) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT dkim_aligned OR spf_aligned $$;

-- The same of a record, from its policy_evaluated dkim and spf.
CREATE OR REPLACE FUNCTION dmarcd_record_pass(dkim text, spf text)
    RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT dmarcd_pass(dmarcd_aligned(dkim), dmarcd_aligned(spf)) $$;

-- --- helpers ---------------------------------------------------------------

-- The sorted union of two sorted distinct arrays.
CREATE OR REPLACE FUNCTION dmarcd_text_union(a text[], b text[])
    RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY(SELECT DISTINCT x FROM unnest(a || b) x ORDER BY 1) $$;

-- The sorted distinct elements of an array.
CREATE OR REPLACE FUNCTION dmarcd_text_distinct(a text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ARRAY(SELECT DISTINCT x FROM unnest(a) x ORDER BY 1) $$;

-- The second pass gathers the arrays of the page's IPs (about 30 rows an IP
-- for 30 days).  Concatenating them first and sorting once per IP is 1.4x
-- faster than unnesting every row (measured, 62 -> 45 ms at 10M).
CREATE OR REPLACE AGGREGATE dmarcd_text_cat(text[]) (
	SFUNC = array_cat, STYPE = text[], INITCOND = '{}'
);

-- --- aggregate reports: rollups -------------------------------------------

-- The records by domain, day, source, alignment and disposition, for
-- summary.c; readers bound it by domain and day, which reach report_day
-- and record's primary key.
CREATE OR REPLACE VIEW daily AS
SELECT r.domain, dmarcd_report_day(r.begin_time, r.end_time) AS day,
    c.source_ip, coalesce(c.header_from, '') AS header_from,
    dmarcd_aligned(c.dkim) AS dkim_aligned,
    dmarcd_aligned(c.spf) AS spf_aligned,
    coalesce(c.disposition, '') AS disposition,
    sum(c.count)::bigint AS messages, count(*)::bigint AS records
FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id
    AND c.month = dmarcd_report_month(r.begin_time, r.end_time)
GROUP BY 1, 2, 3, 4, 5, 6, 7;


-- Adds the reports (p_domain[i], p_id[i]) to the dash_* rollups, from
-- their report and record rows; ids not found are skipped.  Each report
-- must be added once.  One statement: the records are read once, the
-- grouped auth results and reasons are computed once for both of their
-- tables; ORDER BY takes row locks in one order under concurrent ingests.
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
	    r.n_records, r.received,
	    dmarcd_report_month(r.begin_time, r.end_time) AS month
	FROM (SELECT DISTINCT * FROM unnest(p_domain, p_id)) b(domain, id)
	JOIN report r ON r.domain = b.domain AND r.id = b.id
), c AS MATERIALIZED (
	SELECT r.domain, r.day, r.reporter, c.source_ip,
	    coalesce(c.header_from, '') AS header_from,
	    dmarcd_aligned(c.dkim) AS dkim_aligned,
	    dmarcd_aligned(c.spf) AS spf_aligned,
	    coalesce(c.disposition, '') AS disposition, c.count,
	    c.reason_type, c.dkim_domain, c.dkim_selector, c.dkim_result,
	    c.spf_domain, c.spf_scope, c.spf_result
	FROM r JOIN record c ON c.domain = r.domain AND c.report = r.id
	    AND c.month = r.month
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
	    coalesce(sum(count) FILTER (WHERE dmarcd_pass(dkim_aligned,
		spf_aligned)), 0),
	    coalesce(sum(count) FILTER (WHERE NOT dmarcd_pass(dkim_aligned,
		spf_aligned) AND disposition = 'quarantine'), 0),
	    coalesce(sum(count) FILTER (WHERE NOT dmarcd_pass(dkim_aligned,
		spf_aligned) AND disposition = 'reject'), 0),
	    count(*), array_agg(DISTINCT header_from ORDER BY header_from),
	    coalesce(array_agg(DISTINCT header_from ORDER BY header_from)
		FILTER (WHERE NOT dmarcd_pass(dkim_aligned, spf_aligned)),
		'{}')
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
	    coalesce(sum(count) FILTER (WHERE dmarcd_pass(dkim_aligned,
		spf_aligned)), 0),
	    coalesce(sum(count) FILTER (WHERE NOT dmarcd_pass(dkim_aligned,
		spf_aligned) AND disposition = 'quarantine'), 0),
	    coalesce(sum(count) FILTER (WHERE NOT dmarcd_pass(dkim_aligned,
		spf_aligned) AND disposition = 'reject'), 0),
	    count(*), array_agg(DISTINCT header_from ORDER BY header_from),
	    coalesce(array_agg(DISTINCT header_from ORDER BY header_from)
		FILTER (WHERE NOT dmarcd_pass(dkim_aligned, spf_aligned)),
		'{}'),
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
), i_host AS (
	-- a new address waits for the enricher (sql/011_source_host.sql);
	-- one it could not name is classified again on its new records
	INSERT INTO source_host (ip)
	SELECT DISTINCT source_ip FROM c ORDER BY 1
	ON CONFLICT (ip) DO UPDATE SET classified = NULL
	WHERE source_host.service IS NULL AND
	    source_host.classified IS NOT NULL
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
		    dmarcd_pass(dkim_aligned, spf_aligned) AS dmarc_pass,
		    disposition,
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
-- the simulator's (sql/015_simulator.sql): each new profile, then the
-- messages under it.  Statements of their own: the join must see the
-- profiles this one inserted, and those a concurrent store committed
-- while this one waited on them (READ COMMITTED: a snapshot a statement).
-- A record finds its profile by the hash of the columns and their
-- equality (sql/016_profile_hash.sql), not by the digest.
INSERT INTO auth_profile (domain, digest, hash, header_from, dkim_domain,
    dkim_result, spf_domain, spf_scope, spf_result, reason_type)
SELECT g.domain, dmarcd_auth_digest(g.header_from, g.dkim_domain,
    g.dkim_result, g.spf_domain, g.spf_scope, g.spf_result, g.reason_type),
    dmarcd_auth_hash(g.header_from, g.dkim_domain, g.dkim_result,
    g.spf_domain, g.spf_scope, g.spf_result, g.reason_type),
    g.header_from, g.dkim_domain, g.dkim_result, g.spf_domain, g.spf_scope,
    g.spf_result, g.reason_type
FROM (SELECT c.domain, c.header_from, c.dkim_domain, c.dkim_result,
	c.spf_domain, c.spf_scope, c.spf_result, c.reason_type
    FROM (SELECT DISTINCT * FROM unnest(p_domain, p_id)) b(domain, id)
    JOIN report r ON r.domain = b.domain AND r.id = b.id
    JOIN record c ON c.domain = r.domain AND c.report = r.id
	AND c.month = dmarcd_report_month(r.begin_time, r.end_time)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) g
ORDER BY 1, 2
ON CONFLICT (domain, digest) DO NOTHING;
INSERT INTO sim_day (domain, day, source_ip, profile, messages)
SELECT c.domain, dmarcd_report_day(r.begin_time, r.end_time), c.source_ip,
    p.id, sum(c.count)
FROM (SELECT DISTINCT * FROM unnest(p_domain, p_id)) b(domain, id)
JOIN report r ON r.domain = b.domain AND r.id = b.id
JOIN record c ON c.domain = r.domain AND c.report = r.id
    AND c.month = dmarcd_report_month(r.begin_time, r.end_time)
JOIN auth_profile p ON p.domain = c.domain AND p.hash =
    dmarcd_auth_hash(c.header_from, c.dkim_domain, c.dkim_result,
    c.spf_domain, c.spf_scope, c.spf_result, c.reason_type)
    AND ROW(p.header_from, p.dkim_domain, p.dkim_result, p.spf_domain,
    p.spf_scope, p.spf_result, p.reason_type) IS NOT DISTINCT FROM
    ROW(c.header_from, c.dkim_domain, c.dkim_result, c.spf_domain,
    c.spf_scope, c.spf_result, c.reason_type)
GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
ON CONFLICT (domain, day, source_ip, profile)
DO UPDATE SET messages = sim_day.messages + excluded.messages;
END;
$$;

-- For tools that roll reports up by id range, and one report.
CREATE OR REPLACE FUNCTION dmarcd_rollup_reports(p_domain text,
    p_first bigint, p_last bigint) RETURNS void LANGUAGE sql AS $$
SELECT dmarcd_rollup_set(array_agg(domain), array_agg(id))
FROM report WHERE domain = p_domain AND id BETWEEN p_first AND p_last;
$$;

CREATE OR REPLACE FUNCTION dmarcd_rollup_report(p_domain text, p_report bigint)
    RETURNS void LANGUAGE sql
    AS $$ SELECT dmarcd_rollup_reports(p_domain, p_report, p_report) $$;

-- --- aggregate reports: the end of a store transaction ---------------------

-- The documents go in with their reports' totals, at the end of the store
-- transaction, in the one call that already writes those: a bytea[]
-- parameter, not an INSERT (a round trip) per report: that made an
-- ingest of 2,000 reports 12% slower than keeping no documents (medians of
-- 3, same run); this way the difference is within the noise.  An element of
-- size -1 has no row (dmarcd inserted it on its own, or there is none); a
-- report rolled back since its document was queued has none either.
CREATE OR REPLACE FUNCTION dmarcd_store_totals(p_domain text[], p_id bigint[],
    p_records bigint[], p_messages bigint[], p_sha256 text[],
    p_doc_size bigint[], p_doc bytea[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
	UPDATE report r SET n_records = b.n, messages = b.m,
	    sha256 = decode(b.h, 'hex')
	FROM unnest(p_domain, p_id, p_records, p_messages, p_sha256)
	    AS b(domain, id, n, m, h)
	WHERE r.domain = b.domain AND r.id = b.id;
	INSERT INTO report_document (domain, report, size, gz)
	SELECT b.domain, b.id, b.size, b.gz
	FROM unnest(p_domain, p_id, p_doc_size, p_doc) AS b(domain, id, size, gz)
	WHERE b.size >= 0 AND EXISTS (SELECT 1 FROM report r
	    WHERE r.domain = b.domain AND r.id = b.id);
END;
$$;

-- The end of a store transaction: totals and documents, then the rollups.
-- Reports rolled back since are not found, so the rollups count exactly
-- what commits.
CREATE OR REPLACE FUNCTION dmarcd_store_reports(p_domain text[], p_id bigint[],
    p_records bigint[], p_messages bigint[], p_sha256 text[],
    p_doc_size bigint[], p_doc bytea[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dmarcd_store_totals(p_domain, p_id, p_records, p_messages,
	    p_sha256, p_doc_size, p_doc);
	PERFORM dmarcd_rollup_set(p_domain, p_id);
END;
$$;

-- The same for a transaction whose rollups are folded later: its reports
-- are queued in rollup_queue (no row shared with other transactions).
CREATE OR REPLACE FUNCTION dmarcd_store_reports_later(p_domain text[],
    p_id bigint[], p_records bigint[], p_messages bigint[], p_sha256 text[],
    p_doc_size bigint[], p_doc bytea[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dmarcd_store_totals(p_domain, p_id, p_records, p_messages,
	    p_sha256, p_doc_size, p_doc);
	INSERT INTO rollup_queue
	SELECT DISTINCT * FROM unnest(p_domain, p_id)
	ON CONFLICT DO NOTHING;
END;
$$;

-- Adds at most p_max queued reports to the rollups; returns how many.
-- Several folders may run at once: each takes the rows it deletes.  A
-- report whose counts would overflow a rollup's sum (bigint) cannot be
-- added; left in the queue it would stop every fold after it, so the
-- batch is then added report by report and that one is left out of the
-- rollups with a warning (it stays stored, report and records, for
-- export; the parser's cap on a count makes this hostile input only).
CREATE OR REPLACE FUNCTION dmarcd_rollup_queued(p_max integer) RETURNS integer
    LANGUAGE plpgsql AS $$
DECLARE
	d	text[];
	i	bigint[];
	k	integer;
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
	BEGIN
		PERFORM dmarcd_rollup_set(d, i);
	EXCEPTION WHEN numeric_value_out_of_range THEN
		FOR k IN 1 .. cardinality(d) LOOP
			BEGIN
				PERFORM dmarcd_rollup_set(d[k:k], i[k:k]);
			EXCEPTION WHEN numeric_value_out_of_range THEN
				RAISE WARNING 'dmarcd: report % of % left out of'
				    ' the rollups: its counts overflow them',
				    i[k], d[k];
			END;
		END LOOP;
	END;
	RETURN cardinality(d);
END;
$$;

-- --- failure reports and TLS reports: daily rollups by trigger -------------

-- The day of a failure report: when the failed message arrived, else when
-- the report was written, else when we got it (UTC).
CREATE OR REPLACE FUNCTION dmarcd_forensic_day(a timestamptz, d timestamptz,
    r timestamptz) RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (coalesce(a, d, r) AT TIME ZONE 'UTC')::date $$;

CREATE OR REPLACE FUNCTION dmarcd_forensic_rollup() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO forensic_daily VALUES (NEW.domain,
	    dmarcd_forensic_day(NEW.arrival, NEW.report_date, NEW.received),
	    coalesce(NEW.reporter, ''), coalesce(host(NEW.source_ip), ''), 1)
	ON CONFLICT (domain, day, reporter, source_ip)
	DO UPDATE SET reports = forensic_daily.reports + 1;
	RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS forensic_rollup ON forensic;
CREATE TRIGGER forensic_rollup AFTER INSERT ON forensic
    FOR EACH ROW EXECUTE FUNCTION dmarcd_forensic_rollup();

CREATE OR REPLACE FUNCTION dmarcd_tlsrpt_rollup() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO tlsrpt_daily
	SELECT NEW.domain, dmarcd_report_day(t.begin_time, t.end_time),
	    t.organization_name, NEW.policy_type, 1, NEW.successful,
	    NEW.failed
	FROM tlsrpt t WHERE t.domain = NEW.report_domain AND t.id = NEW.report
	ON CONFLICT (domain, day, reporter, policy_type)
	DO UPDATE SET policies = tlsrpt_daily.policies + 1,
	    successful = tlsrpt_daily.successful + excluded.successful,
	    failed = tlsrpt_daily.failed + excluded.failed;
	RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS tlsrpt_rollup ON tlsrpt_policy;
CREATE TRIGGER tlsrpt_rollup AFTER INSERT ON tlsrpt_policy
    FOR EACH ROW EXECUTE FUNCTION dmarcd_tlsrpt_rollup();

-- --- retention (dmarcd db prune, db/prune.c) ------------------------------

-- This month's and the next one's partitions (sql/017_partitions.sql), made
-- ahead of their first report: then that report's store does not make them
-- inside its transaction, holding the default partitions' lock until it
-- commits.  By db prune and the rollup folder (hourly); cheap when they are
-- there.
CREATE OR REPLACE FUNCTION dmarcd_partitions_ahead() RETURNS void
    LANGUAGE sql AS $$
SELECT dmarcd_partition(date_trunc('month', (now() AT TIME ZONE 'UTC') +
    make_interval(months => m))::date)
FROM generate_series(0, 1) m;
$$;

-- The first day of the month before which retention (months) drops
-- everything: a month goes once its last day is older than that many
-- months.
CREATE OR REPLACE FUNCTION dmarcd_prune_cutoff(p_months int) RETURNS date
    LANGUAGE sql STABLE AS $$
SELECT date_trunc('month', (now() AT TIME ZONE 'UTC') -
    make_interval(months => p_months))::date
$$;

-- The rows of p_table whose p_key is before p_cut: deleted (unless
-- p_dry) and counted.
CREATE OR REPLACE FUNCTION dmarcd_prune_rows(p_table text, p_key text,
    p_cut date, p_dry boolean) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
	n	bigint;
BEGIN
	IF p_dry THEN
		EXECUTE format('SELECT count(*) FROM %I WHERE %I < $1', p_table,
		    p_key) INTO n USING p_cut;
	ELSE
		EXECUTE format('WITH d AS (DELETE FROM %I WHERE %I < $1'
		    ' RETURNING 1) SELECT count(*) FROM d', p_table, p_key)
		    INTO n USING p_cut;
	END IF;
	RETURN n;
END;
$$;

-- What retention (p_months of records, p_rollup_months of the per-day
-- rollups and the reports' headers; 0: off) drops, and drops it unless
-- p_dry: one row for each table it takes rows from, with the rows and
-- (for a whole partition or the documents) bytes.  record and sim_day lose
-- whole partitions (sql/017_partitions.sql); their default partitions,
-- which hold only the months that get no partition, the sources' rollups
-- and the per-report and per-day tables lose rows, by index.  The caller
-- folds the queued rollups first and sets lock_timeout: dropping a
-- partition waits for the queries reading its table.
CREATE OR REPLACE FUNCTION dmarcd_prune(p_months int, p_rollup_months int,
    p_dry boolean)
    RETURNS TABLE (action text, tbl text, rows bigint, bytes bigint)
    LANGUAGE plpgsql SET datestyle = 'ISO, YMD' AS $$
DECLARE
	cut	date;
	rcut	date;
	t	record;
	n	bigint;
BEGIN
	IF p_months > 0 THEN
		cut := dmarcd_prune_cutoff(p_months);
		action := 'records before ' || cut;
		tbl := NULL; rows := NULL; bytes := NULL;
		RETURN NEXT;
		FOR t IN
			SELECT c.oid::regclass AS part, c.relname,
			    pg_total_relation_size(c.oid) AS size
			FROM dmarcd_partitioned() d
			JOIN pg_inherits i ON i.inhparent = to_regclass(d.name)
			JOIN pg_class c ON c.oid = i.inhrelid
			WHERE (regexp_match(pg_get_expr(c.relpartbound, c.oid),
			    'TO [(]''([0-9-]+)''[)]'))[1]::date <= cut
			ORDER BY c.relname
		LOOP
			EXECUTE format('SELECT count(*) FROM %s', t.part)
			    INTO rows;
			action := 'drop'; tbl := t.relname; bytes := t.size;
			RETURN NEXT;
			IF NOT p_dry THEN
				EXECUTE format('DROP TABLE %s', t.part);
			END IF;
		END LOOP;
		FOR t IN SELECT * FROM dmarcd_partitioned() LOOP
			n := dmarcd_prune_rows(t.name || '_default', t.key, cut,
			    p_dry);
			CONTINUE WHEN n = 0;
			action := 'delete'; tbl := t.name || '_default';
			rows := n; bytes := NULL;
			RETURN NEXT;
		END LOOP;
		-- the sources' rollups, not partitioned (017_partitions.sql):
		-- by day, through the keys that lead with it (dash_ip_all's)
		FOREACH tbl IN ARRAY ARRAY['dash_ip', 'dash_ip_all'] LOOP
			n := dmarcd_prune_rows(tbl, 'day', cut, p_dry);
			CONTINUE WHEN n = 0;
			action := 'delete'; rows := n; bytes := NULL;
			RETURN NEXT;
		END LOOP;
		-- the reports' documents go with their records
		SELECT count(*), coalesce(sum(length(d.gz)), 0) INTO rows, bytes
		FROM report r JOIN report_document d ON d.domain = r.domain
		    AND d.report = r.id
		WHERE dmarcd_report_day(r.begin_time, r.end_time) < cut;
		IF rows > 0 THEN
			action := 'delete'; tbl := 'report_document';
			RETURN NEXT;
			IF NOT p_dry THEN
				DELETE FROM report_document d USING report r
				WHERE d.domain = r.domain AND d.report = r.id
				    AND dmarcd_report_day(r.begin_time,
				    r.end_time) < cut;
			END IF;
		END IF;
	END IF;
	IF p_rollup_months > 0 THEN
		rcut := dmarcd_prune_cutoff(p_rollup_months);
		action := 'rollups and reports before ' || rcut;
		tbl := NULL; rows := NULL; bytes := NULL;
		RETURN NEXT;
		FOREACH tbl IN ARRAY ARRAY['dash_summary', 'dash_day',
		    'dash_auth', 'dash_reason', 'dash_reporter',
		    'dash_auth_day', 'dash_reason_day'] LOOP
			n := dmarcd_prune_rows(tbl, 'day', rcut, p_dry);
			CONTINUE WHEN n = 0;
			action := 'delete'; rows := n; bytes := NULL;
			RETURN NEXT;
		END LOOP;
		-- the headers, the dedup key: a report sent again after this
		-- is stored and counted again
		IF p_dry THEN
			SELECT count(*) INTO n FROM report r
			WHERE dmarcd_report_day(r.begin_time, r.end_time) < rcut;
		ELSE
			DELETE FROM rollup_queue q USING report r
			WHERE q.domain = r.domain AND q.report = r.id AND
			    dmarcd_report_day(r.begin_time, r.end_time) < rcut;
			WITH d AS (DELETE FROM report r WHERE
			    dmarcd_report_day(r.begin_time, r.end_time) < rcut
			    RETURNING 1)
			SELECT count(*) INTO n FROM d;
		END IF;
		IF n > 0 THEN
			action := 'delete'; tbl := 'report'; rows := n;
			bytes := NULL;
			RETURN NEXT;
		END IF;
	END IF;
	IF NOT p_dry THEN
		PERFORM dmarcd_partitions_ahead();
	END IF;
END;
$$;
