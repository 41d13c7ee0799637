-- 017_partitions: the record-sized tables by month, so that retention
-- (dmarcd db prune, db/prune.c) drops a month as a whole table instead of
-- deleting its rows one by one.  record by the month of its report's day
-- (a column of its own: a partition key must be one of the table's, and
-- in its primary key); sim_day, the simulator's rollup of about one row
-- per record, by its day.  The per-day rollups, a few rows a day, stay as
-- they are: they are kept longer (rollup_retention).
--
-- Not the sources' rollups (dash_ip, dash_ip_all), though as large: the
-- sources pages read 30 days of them, and a month's partition holds about
-- as many rows as those days, so PostgreSQL reads each partition whole
-- instead of the sums from the primary key (INCLUDE, 010_schema.sql), and
-- the page's addresses by a second pass over both partitions.  Measured at
-- 10M records (tests/bench/bench_api.py), the same database, the table
-- swapped: /api/sources of 30 days p50 217-227 ms partitioned, 56-83 ms as
-- one table.  Retention deletes their old days by their keys instead.
--
-- A month's partitions are made when its first report is stored
-- (dmarcd_partition(), from the store's INSERT of the report), for every
-- month from 2010 (DMARC is from 2012) to the next one.  Rows of any other
-- month, the dates a reporter got wrong or a stranger made up, go to each
-- table's default partition: they cannot make a table each.  When such a
-- month comes into that range, its partition takes its rows from the
-- default one.
--
-- The migration copies every row of the two tables (and keeps them: a
-- record whose report is missing, which the store never writes, goes to
-- the default partition).  It takes as long as copying them and twice
-- their disk space while it runs.

-- The month of a report's day (dmarcd_report_day): record's partition key.
CREATE FUNCTION dmarcd_report_month(b timestamptz, e timestamptz)
    RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT date_trunc('month', dmarcd_report_day(b, e)::timestamp)::date $$;

-- The tables partitioned by month and their key: record's month or the
-- rollups' day.  db/prune.c reads the same list from the catalog.
CREATE FUNCTION dmarcd_partitioned() RETURNS TABLE (name text, key text)
    LANGUAGE sql IMMUTABLE
    AS $$ VALUES ('record', 'month'), ('sim_day', 'day') $$;

-- Makes month p_month's partition of each table if it has none and the
-- month is one that gets its own (above); returns p_month.  SECURITY
-- DEFINER: attaching a partition takes the table's owner, and the role an
-- ingester runs as (dmarcd db grant --ingest) is not.  A concurrent store
-- making the same one is waited for, then its table used.
CREATE FUNCTION dmarcd_partition(p_month date) RETURNS date
    LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	t	record;
	part	text;
	hi	date := (p_month + interval '1 month')::date;
BEGIN
	IF p_month IS NULL OR p_month < date '2010-01-01' OR
	    p_month > (date_trunc('month', now() AT TIME ZONE 'UTC') +
	    interval '1 month')::date OR
	    p_month <> date_trunc('month', p_month::timestamp)::date THEN
		RETURN p_month;		-- the default partition's
	END IF;
	FOR t IN SELECT * FROM dmarcd_partitioned() LOOP
		part := t.name || to_char(p_month, '"_y"YYYY"m"MM');
		CONTINUE WHEN to_regclass(quote_ident(part)) IS NOT NULL;
		BEGIN
			EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING'
			    ' DEFAULTS INCLUDING STORAGE)', part, t.name);
			EXECUTE format('WITH m AS (DELETE FROM %I WHERE %I >= $1'
			    ' AND %I < $2 RETURNING *) INSERT INTO %I SELECT *'
			    ' FROM m', t.name || '_default', t.key, t.key, part)
			    USING p_month, hi;
			EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR'
			    ' VALUES FROM (%L) TO (%L)', t.name, part, p_month,
			    hi);
		EXCEPTION WHEN duplicate_table OR unique_violation THEN
			NULL;		-- a concurrent store made it
		END;
	END LOOP;
	RETURN p_month;
END;
$$;
ALTER FUNCTION dmarcd_partition(date) SET search_path FROM CURRENT;

-- the old tables step aside, with their indexes' names
ALTER TABLE record RENAME TO record_v16;
ALTER INDEX record_pkey RENAME TO record_v16_pkey;
ALTER INDEX record_source_ip RENAME TO record_v16_source_ip;
ALTER TABLE sim_day RENAME TO sim_day_v16;
ALTER INDEX sim_day_pkey RENAME TO sim_day_v16_pkey;
ALTER INDEX sim_day_day RENAME TO sim_day_v16_day;
DROP STATISTICS sim_day_groups;

-- The same columns (010_schema.sql, 015_simulator.sql say what they are)
-- and keys; record gains its month.
CREATE TABLE record (
	LIKE record_v16 INCLUDING DEFAULTS INCLUDING STORAGE,
	month		date NOT NULL,	-- dmarcd_report_month() of its report
	PRIMARY KEY (domain, report, ordinal, month)
) PARTITION BY RANGE (month);
CREATE INDEX record_source_ip ON record (source_ip);

CREATE TABLE sim_day (
	LIKE sim_day_v16 INCLUDING DEFAULTS INCLUDING STORAGE,
	PRIMARY KEY (domain, day, source_ip, profile) INCLUDE (messages)
) PARTITION BY RANGE (day);
CREATE INDEX sim_day_day ON sim_day (day)
    INCLUDE (profile, source_ip, messages);
CREATE STATISTICS sim_day_groups (ndistinct) ON profile, source_ip
    FROM sim_day;

CREATE TABLE record_default PARTITION OF record DEFAULT;
CREATE TABLE sim_day_default PARTITION OF sim_day DEFAULT;

-- the months the database holds, and this one and the next
SELECT dmarcd_partition(m) FROM (
	SELECT dmarcd_report_month(begin_time, end_time) FROM report
	UNION SELECT date_trunc('month', day::timestamp)::date FROM sim_day_v16
	UNION SELECT date_trunc('month', now() AT TIME ZONE 'UTC')::date
	UNION SELECT (date_trunc('month', now() AT TIME ZONE 'UTC') +
	    interval '1 month')::date
) s(m) ORDER BY m;

INSERT INTO record
SELECT c.*, coalesce(dmarcd_report_month(r.begin_time, r.end_time),
    date '0001-01-01')
FROM record_v16 c LEFT JOIN report r ON r.domain = c.domain AND r.id = c.report;
INSERT INTO sim_day SELECT * FROM sim_day_v16;

DROP TABLE record_v16, sim_day_v16;

-- autovacuum analyses the partitions, never the partitioned tables
-- themselves (whose statistics plan a query over several months):
-- dmarcd db prune analyses them too
ANALYZE record, sim_day;
