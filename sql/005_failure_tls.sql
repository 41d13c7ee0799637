-- 005_failure_tls: failure reports (RFC 6591) and SMTP TLS reports (RFC
-- 8460), with the daily rollups their dashboard pages read.  As in 001,
-- every table carries a domain and every unique key starts with it.  The
-- columns hold exactly what `dmarcd parse` prints, so export rebuilds the
-- parser's struct and prints it with the parser's own encoder.

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

-- The day of a failure report: when the failed message arrived, else when
-- the report was written, else when we got it (UTC).
CREATE FUNCTION dmarcd_forensic_day(a timestamptz, d timestamptz,
    r timestamptz) RETURNS date LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (coalesce(a, d, r) AT TIME ZONE 'UTC')::date $$;

-- Failure reports per day, reporter and source IP ('' when none).
CREATE TABLE forensic_daily (
	domain		text NOT NULL,
	day		date NOT NULL,
	reporter	text NOT NULL,
	source_ip	text NOT NULL,
	reports		bigint NOT NULL,
	PRIMARY KEY (domain, day, reporter, source_ip)
);

CREATE FUNCTION dmarcd_forensic_rollup() RETURNS trigger LANGUAGE plpgsql
    AS $$
BEGIN
	INSERT INTO forensic_daily VALUES (NEW.domain,
	    dmarcd_forensic_day(NEW.arrival, NEW.report_date, NEW.received),
	    coalesce(NEW.reporter, ''), coalesce(host(NEW.source_ip), ''), 1)
	ON CONFLICT (domain, day, reporter, source_ip)
	DO UPDATE SET reports = forensic_daily.reports + 1;
	RETURN NULL;
END $$;

CREATE TRIGGER forensic_rollup AFTER INSERT ON forensic
    FOR EACH ROW EXECUTE FUNCTION dmarcd_forensic_rollup();

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

CREATE FUNCTION dmarcd_tlsrpt_rollup() RETURNS trigger LANGUAGE plpgsql
    AS $$
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

CREATE TRIGGER tlsrpt_rollup AFTER INSERT ON tlsrpt_policy
    FOR EACH ROW EXECUTE FUNCTION dmarcd_tlsrpt_rollup();
