-- 010_schema: the schema of dmarcd, as migrations 001..010 left it
-- (squashed before the first release; a database migrated through them is
-- at version 10 and needs nothing).  Tables and indexes, and the one
-- function an index is built on; the rest of the code in the database
-- (views, rollup and trigger functions) is sql/functions.sql, re-applied
-- by a dmarcd whose copy differs from the database's.  A change to a
-- table goes in a new migration, sql/011_name.sql, listed in Makefile.am.
--
-- Every table carries the policy domain and every unique key (primary keys
-- included) starts with it, so the schema can be distributed by domain
-- (Citus) without change.  Times are timestamptz, written in UTC.

-- --- aggregate reports --------------------------------------------------

-- One aggregate report.  Dedup is the unique key: the same report arriving
-- again (other wrapper, other email, re-sent) conflicts and is not stored.
CREATE TABLE report (
	domain			text NOT NULL,
	id			bigint GENERATED ALWAYS AS IDENTITY,
	org_name		text,
	org_email		text,
	extra_contact_info	text,
	report_id		text NOT NULL,
	begin_time		timestamptz NOT NULL,
	end_time		timestamptz NOT NULL,
	errors			text[] NOT NULL DEFAULT '{}',
	generator		text,
	version			text,
	adkim			text,
	aspf			text,
	p			text,
	sp			text,
	np			text,
	pct			smallint,
	fo			text,
	testing			text,
	discovery_method	text,
	dmarcbis		boolean NOT NULL DEFAULT false,
	n_records		bigint NOT NULL DEFAULT 0,
	messages		bigint NOT NULL DEFAULT 0,
	source			text,		-- file, Maildir path, LMTP ...
	item			text,		-- attachment / archive entry name
	message_id		text,		-- Message-ID of the carrying email
	sha256			bytea,		-- of the report document (XML)
	received		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, id)
);
-- The dedup key.  org_name may be absent; coalesce makes two absent names
-- equal (a plain UNIQUE would let NULLs repeat).
CREATE UNIQUE INDEX report_identity ON report
    (domain, coalesce(org_name, ''), report_id, begin_time, end_time);

-- One <record>, in report order (ordinal); report is report.id.
-- Authentication results are parallel arrays, not child rows: a record is
-- then exactly one COPY line of one COPY stream, so a report goes in with a
-- single COPY and nothing of it has to be buffered; readers unnest() them
-- when they need rows.
CREATE TABLE record (
	domain			text NOT NULL,
	report			bigint NOT NULL,
	ordinal			integer NOT NULL,
	source_ip		inet NOT NULL,
	count			bigint NOT NULL,
	disposition		text,
	dkim			text,		-- policy_evaluated
	spf			text,		-- policy_evaluated
	reason_type		text[] NOT NULL DEFAULT '{}',
	reason_comment		text[] NOT NULL DEFAULT '{}',
	header_from		text,
	envelope_from		text,
	envelope_to		text,
	dkim_domain		text[] NOT NULL DEFAULT '{}',
	dkim_selector		text[] NOT NULL DEFAULT '{}',
	dkim_result		text[] NOT NULL DEFAULT '{}',
	dkim_human_result	text[] NOT NULL DEFAULT '{}',
	spf_domain		text[] NOT NULL DEFAULT '{}',
	spf_scope		text[] NOT NULL DEFAULT '{}',
	spf_result		text[] NOT NULL DEFAULT '{}',
	spf_human_result	text[] NOT NULL DEFAULT '{}',
	PRIMARY KEY (domain, report, ordinal)
	-- No FOREIGN KEY to report: its per-row trigger made COPY 5x slower
	-- (measured); rows are written only in their report's transaction.
);

-- What could not be parsed: the original bytes, kept until a newer dmarcd
-- parses them (quarantine retry).  Resolved rows keep their bytes: nothing
-- the user gave us is deleted.  The domain is '' while unknown.
CREATE TABLE quarantine (
	domain			text NOT NULL DEFAULT '',
	id			bigint GENERATED ALWAYS AS IDENTITY,
	sha256			bytea NOT NULL,
	bytes			bytea NOT NULL,
	size			bigint NOT NULL,
	reason			text NOT NULL,
	source			text,
	first_seen		timestamptz NOT NULL DEFAULT now(),
	last_seen		timestamptz NOT NULL DEFAULT now(),
	times_seen		integer NOT NULL DEFAULT 1,
	resolved		timestamptz,	-- when a retry stored it
	PRIMARY KEY (domain, id),
	UNIQUE (domain, sha256)
);

-- export and the dashboard select reports by period
CREATE INDEX report_period ON report (domain, begin_time);
CREATE INDEX quarantine_open ON quarantine (id) WHERE resolved IS NULL;

-- The rollup day of a report: the UTC date of the middle of its period
-- (reporters' days are not all UTC days).  Every query that puts a report
-- on a day calls this, so that it reaches report_day below; as an index
-- is built on it, it changes only in a migration that rebuilds that index
-- and the rollups.
CREATE FUNCTION dmarcd_report_day(b timestamptz, e timestamptz) RETURNS date
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT ((b AT TIME ZONE 'UTC') + (e - b) / 2)::date $$;

CREATE INDEX report_day ON report (domain, dmarcd_report_day(begin_time,
    end_time));
CREATE INDEX report_reporter ON report (coalesce(org_name, ''));
-- Sources drill-down: the records of one IP.
CREATE INDEX record_source_ip ON record (source_ip);

-- The aggregate report's document itself, so the dashboard can show the
-- XML a figure came from.  gzip (written by dmarcd, level 1: reports
-- shrink about 10x), stored as it is: EXTERNAL, so
-- PostgreSQL does not try to compress it again.  gz is NULL when the
-- document was not kept (larger than max_stored_document gzipped, or that
-- setting is 0); size is still the document's.  Reports stored before
-- version 10 have no row.  Not derived data: the original bytes, as the
-- quarantine keeps those of what could not be parsed.
CREATE TABLE report_document (
	domain		text NOT NULL,
	report		bigint NOT NULL,	-- report.id
	size		bigint NOT NULL,	-- bytes of the document
	gz		bytea,			-- gzip of it, or NULL
	PRIMARY KEY (domain, report)
);
ALTER TABLE report_document ALTER COLUMN gz SET STORAGE EXTERNAL;

-- --- dashboard rollups ---------------------------------------------------
-- The pages of dmarcd serve read these, so no page scans record.  Keyed by
-- (domain, day, reporter, ...) for a page filtered by reporter, and the
-- same without the reporter (far fewer rows) for one that is not.  The
-- day is dmarcd_report_day's, the reporter the org_name ('' when absent).
-- Filled by dmarcd_rollup_set() (sql/functions.sql), at the end of the
-- store's transaction or later from rollup_queue.

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

-- The same without the reporter: the overview, meta and the alignment
-- series when no reporter is chosen (tiny).
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

-- dash_auth and dash_reason without the reporter: read unless a reporter
-- is chosen (with it, 30 days at 10M records read ~1M and ~600k rows:
-- 569 ms p95, measured).
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

-- With no domain chosen, the day is the first column the filter bounds:
-- the alignment page's auth results and reasons read 3,000 of 36,500 rows
-- (30 days at 10M records) through these instead of every row (8 -> 3 ms
-- a query, measured), the reporters page 24,659 of 100,000 (69 -> 28 ms).
-- Small tables: one row per domain, day and result (or reporter).
CREATE INDEX dash_auth_day_day ON dash_auth_day (day);
CREATE INDEX dash_reason_day_day ON dash_reason_day (day);
CREATE INDEX dash_reporter_day ON dash_reporter (day);

-- Sources.  dash_ip: the sources and failing sources of one domain;
-- header_from as sorted distinct arrays.  dash_ip_all: the same across all
-- domains, so the sources page of every domain aggregates one row per IP
-- and day.  No domain in its key: it is a rollup of rollups, rebuilt from
-- record if ever needed.  With a reporter chosen, sources read record
-- through the reporter's reports; a single IP's detail reads record
-- (record_source_ip).
--
-- The sources pages read their per-IP sums from the primary key alone:
-- the rows (with their header_from and domain arrays) are ~430 bytes wide,
-- and reading ~84,000 of them for five integers a row cost 60-110 ms of
-- p95 (30 days at 10M records, measured).  With the sums INCLUDEd in the
-- primary key, that pass is an index-only scan (about 3x faster,
-- measured) and only the page of IPs shown reads the arrays.  No extra
-- index: an upsert already writes the key's index.
--
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
	    INCLUDE (messages, pass, fail_quarantine, fail_reject, records)
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
	    INCLUDE (messages, pass, fail_quarantine, fail_reject, records)
);
-- the sources of every domain choose their page from the sums, then
-- gather header_from and domains for that page's IPs only
CREATE INDEX dash_ip_all_ip ON dash_ip_all (source_ip, day);

-- Rollups folded just after the commit, for many small concurrent
-- transactions.  LMTP delivers one message per transaction from
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

-- --- failure reports (RFC 6591) and SMTP TLS reports (RFC 8460) ---------
-- The columns hold exactly what `dmarcd parse` prints, so export rebuilds
-- the parser's struct and prints it with the parser's own encoder.

-- One failure report.  domain is the Reported-Domain ('' when absent).
-- Dedup: sha256 is of the report as parsed (its `parse` JSON, without
-- source, read with the default privacy settings), not of the bytes: the
-- same report re-delivered (another envelope, CRLF instead of LF, a
-- forwarder's Received: lines) is the same report and is stored once,
-- whatever forensic_keep_body/forensic_redact were when it came in.
CREATE TABLE forensic (
	domain			text NOT NULL,
	id			bigint GENERATED ALWAYS AS IDENTITY,
	sha256			bytea NOT NULL,
	format			text NOT NULL,		-- arf, exim-text
	reporter		text,			-- From: of the report
	report_message_id	text,
	report_subject		text,
	report_date		timestamptz,
	feedback_type		text,
	user_agent		text,
	version			text,
	original_mail_from	text,
	original_rcpt_to	text[] NOT NULL DEFAULT '{}',
	original_rcpt_to_total	bigint NOT NULL DEFAULT 0,
	arrival			timestamptz,
	arrival_text		text,
	source_ip		inet,			-- NULL: not an IP
	reported_domain		text,			-- NULL: absent
	authentication_results	text[] NOT NULL DEFAULT '{}',
	auth_failure		text[] NOT NULL DEFAULT '{}',
	dkim_domain		text,
	dkim_identity		text,
	dkim_selector		text,
	delivery_result		text,
	identity_alignment	text,
	reported_uri		text[] NOT NULL DEFAULT '{}',
	original_envelope_id	text,
	reporting_mta		text,
	incidents		bigint,
	headers			text,
	headers_truncated	boolean NOT NULL DEFAULT false,
	body			text,			-- forensic_keep_body only
	body_truncated		boolean NOT NULL DEFAULT false,
	redacted		boolean NOT NULL DEFAULT false,
	source			text,
	item			text,
	message_id		text,			-- of the carrying email
	received		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, id),
	UNIQUE (domain, sha256)
);
CREATE INDEX forensic_arrival ON forensic (domain,
    coalesce(arrival, report_date, received));

-- Failure reports per day (dmarcd_forensic_day), reporter and source IP
-- ('' when none).  Filled by the trigger forensic_rollup.
CREATE TABLE forensic_daily (
	domain		text NOT NULL,
	day		date NOT NULL,
	reporter	text NOT NULL,
	source_ip	text NOT NULL,
	reports		bigint NOT NULL,
	PRIMARY KEY (domain, day, reporter, source_ip)
);

-- One SMTP TLS report.  A report may cover several policy domains: its
-- identity is (organization-name, report-id) (RFC 8460 4.4: report-id is
-- unique per reporter), and domain is the first policy's domain ('' when
-- none), a function of the report itself, so the dedup key
-- (domain, organization_name, report_id) still conflicts on a re-delivery.
-- Each policy is a tlsrpt_policy row under its own domain.
CREATE TABLE tlsrpt (
	domain			text NOT NULL,
	id			bigint GENERATED ALWAYS AS IDENTITY,
	organization_name	text NOT NULL,
	contact_info		text,
	report_id		text NOT NULL,
	start_datetime		text NOT NULL,		-- as given
	end_datetime		text NOT NULL,
	begin_time		timestamptz NOT NULL,
	end_time		timestamptz NOT NULL,
	n_policies		integer NOT NULL,
	successful		bigint NOT NULL,	-- sums over policies
	failed			bigint NOT NULL,
	sha256			bytea,			-- of the JSON document
	source			text,
	item			text,
	message_id		text,
	received		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, id),
	UNIQUE (domain, organization_name, report_id)
);
CREATE INDEX tlsrpt_period ON tlsrpt (domain, begin_time);

-- One policy of a report (ordinal: its place in policies[]); domain is
-- its policy-domain ('' when absent, policy_domain keeping NULL apart).
CREATE TABLE tlsrpt_policy (
	domain			text NOT NULL,
	report_domain		text NOT NULL,		-- tlsrpt.domain
	report			bigint NOT NULL,	-- tlsrpt.id
	ordinal			integer NOT NULL,
	policy_type		text NOT NULL,
	policy_string		text[] NOT NULL DEFAULT '{}',
	policy_domain		text,
	mx_host			text[] NOT NULL DEFAULT '{}',
	successful		bigint NOT NULL,
	failed			bigint NOT NULL,
	PRIMARY KEY (domain, report, ordinal)
);
CREATE INDEX tlsrpt_policy_report ON tlsrpt_policy (report_domain, report);

-- One failure-details entry of a policy, in report order.
CREATE TABLE tlsrpt_failure (
	domain			text NOT NULL,		-- the policy's
	report			bigint NOT NULL,
	policy			integer NOT NULL,	-- tlsrpt_policy.ordinal
	ordinal			integer NOT NULL,
	result_type		text,
	sending_mta_ip		text,	-- as given: not always an IP
	receiving_mx_hostname	text,
	receiving_mx_helo	text,
	receiving_ip		text,
	failed_session_count	bigint,
	additional_information	text,
	failure_reason_code	text,
	PRIMARY KEY (domain, report, policy, ordinal)
);

-- TLS sessions per day (dmarcd_report_day of the report's period), policy
-- domain, reporter and policy type.
CREATE TABLE tlsrpt_daily (
	domain		text NOT NULL,
	day		date NOT NULL,
	reporter	text NOT NULL,
	policy_type	text NOT NULL,
	policies	bigint NOT NULL,
	successful	bigint NOT NULL,
	failed		bigint NOT NULL,
	PRIMARY KEY (domain, day, reporter, policy_type)
);
