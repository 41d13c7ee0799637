-- 015_simulator: the policy simulator's rollup, so /api/simulate reads no
-- record.  What a DMARC result and a sender's class depend on, beyond the
-- source, is a record's authentication profile: header_from, the DKIM
-- and SPF results and the override reasons.  A domain's records share
-- few of them (550 for the 10M records of tests/bench/bench_api.py), so
-- each distinct one is stored once, in auth_profile, and sim_day counts
-- the messages of each (domain, day, source, profile).  The alignment
-- itself (organisational domains through libpsl, the approved-sender
-- rules, which change) is computed by dmarcd when it reads: once per
-- profile, not once per record.
--
-- 30 days of bench_api.py's 10M records: 849,300 records, 266,600 rows
-- of sim_day, 43,000 after the period's GROUP BY (measured).  Filled by
-- dmarcd_rollup_set() with the other rollups; this migration fills both
-- from the records already stored.

-- The digest a profile is found by: of the row's text form, which
-- tells NULL from '' and quotes every element.  It identifies stored
-- rows, so it changes only in a migration that rebuilds both tables.
CREATE FUNCTION dmarcd_auth_digest(header_from text, dkim_domain text[],
    dkim_result text[], spf_domain text[], spf_scope text[],
    spf_result text[], reason_type text[]) RETURNS bytea
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT sha256(textsend(ROW($1, $2, $3, $4, $5, $6, $7)::text)) $$;

-- One profile of a domain, as the records give it (hostile text: read
-- as report data).  Never changed once written.
CREATE TABLE auth_profile (
	domain		text NOT NULL,
	id		bigint GENERATED ALWAYS AS IDENTITY,
	digest		bytea NOT NULL,
	header_from	text,
	dkim_domain	text[] NOT NULL,
	dkim_result	text[] NOT NULL,
	spf_domain	text[] NOT NULL,
	spf_scope	text[] NOT NULL,
	spf_result	text[] NOT NULL,
	reason_type	text[] NOT NULL,
	PRIMARY KEY (domain, id)
);
CREATE UNIQUE INDEX auth_profile_digest ON auth_profile (domain, digest);
-- the simulator asks for the profiles its rows name, by id alone
CREATE INDEX auth_profile_id ON auth_profile (id);

-- Messages by day (dmarcd_report_day), source and profile.  Read from
-- the primary key alone for one domain, from sim_day_day for all (the
-- profile names its domain).
CREATE TABLE sim_day (
	domain		text NOT NULL,
	day		date NOT NULL,
	source_ip	inet NOT NULL,
	profile		bigint NOT NULL,
	messages	bigint NOT NULL,
	PRIMARY KEY (domain, day, source_ip, profile) INCLUDE (messages)
);
CREATE INDEX sim_day_day ON sim_day (day)
    INCLUDE (profile, source_ip, messages);
-- how many (profile, source) a period holds: without it the planner
-- guessed 184,000 groups for 43,000 and planned its hash for them
CREATE STATISTICS sim_day_groups (ndistinct) ON profile, source_ip
    FROM sim_day;

-- the records already stored: the distinct profiles first (grouped
-- before digesting), then every record's messages under its profile;
-- the reports still queued (rollup_queue) are added when they are folded
INSERT INTO auth_profile (domain, digest, header_from, dkim_domain,
    dkim_result, spf_domain, spf_scope, spf_result, reason_type)
SELECT g.domain, dmarcd_auth_digest(g.header_from, g.dkim_domain,
    g.dkim_result, g.spf_domain, g.spf_scope, g.spf_result, g.reason_type),
    g.header_from, g.dkim_domain, g.dkim_result, g.spf_domain, g.spf_scope,
    g.spf_result, g.reason_type
FROM (SELECT domain, header_from, dkim_domain, dkim_result, spf_domain,
    spf_scope, spf_result, reason_type FROM record
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8) g
ORDER BY 1, 2;

INSERT INTO sim_day (domain, day, source_ip, profile, messages)
SELECT c.domain, dmarcd_report_day(r.begin_time, r.end_time), c.source_ip,
    p.id, sum(c.count)
FROM report r JOIN record c ON c.domain = r.domain AND c.report = r.id
JOIN auth_profile p ON p.domain = c.domain AND p.digest =
    dmarcd_auth_digest(c.header_from, c.dkim_domain, c.dkim_result,
    c.spf_domain, c.spf_scope, c.spf_result, c.reason_type)
WHERE NOT EXISTS (SELECT 1 FROM rollup_queue q
    WHERE q.domain = r.domain AND q.report = r.id)
GROUP BY 1, 2, 3, 4;

-- the alert rule of an approved source starting to fail (db/alerts.c)
ALTER TABLE alert_episode DROP CONSTRAINT alert_episode_rule_check;
ALTER TABLE alert_episode ADD CONSTRAINT alert_episode_rule_check
    CHECK (rule IN ('new_source', 'pass_drop', 'reporter_silent',
    'quarantine_growth', 'approved_fail'));

ANALYZE auth_profile;
ANALYZE sim_day;
