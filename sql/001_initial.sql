-- 001_initial: aggregate reports, their records, the quarantine and the
-- daily rollups.  Every table carries the policy domain and every unique key
-- (primary keys included) starts with it, so the schema can be distributed
-- by domain (Citus) without change.  Times are timestamptz, written in UTC.

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

-- One <record>, in report order (ordinal); report is report.id.  Authentication results are
-- parallel arrays, not child rows: a record is then exactly one COPY line of
-- one COPY stream, so a report goes in with a single COPY and nothing of it
-- has to be buffered; readers unnest() them when they need rows.
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

-- Daily rollups for the dashboard and summaries.  The day is the UTC date
-- of the middle of the report's period (reporters' days are not all UTC
-- days).  "aligned" is the policy_evaluated result being pass.
CREATE TABLE daily (
	domain			text NOT NULL,
	day			date NOT NULL,
	source_ip		inet NOT NULL,
	header_from		text NOT NULL,	-- '' when absent
	dkim_aligned		boolean NOT NULL,
	spf_aligned		boolean NOT NULL,
	disposition		text NOT NULL,	-- '' when absent
	messages		bigint NOT NULL,
	records			bigint NOT NULL,
	PRIMARY KEY (domain, day, source_ip, header_from, dkim_aligned,
	    spf_aligned, disposition)
);
