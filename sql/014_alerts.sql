-- 014_alerts: alert episodes (db/alerts.c).  An episode opens when a rule's
-- condition starts to hold for a key and closes at the first evaluation
-- where it no longer does; its alert is sent once, to each destination
-- (mail_sent, webhook_sent: NULL until that destination took it, so a
-- failed send is tried again by the next evaluation).  13 is left to the
-- approved senders (sql/013_senders.sql).
CREATE TABLE alert_episode (
	domain		text NOT NULL,		-- '' for the quarantine
	id		bigint GENERATED ALWAYS AS IDENTITY,
	rule		text NOT NULL CHECK (rule IN ('new_source',
			    'pass_drop', 'reporter_silent',
			    'quarantine_growth')),
	key		text NOT NULL,		-- source IP, reporter or ''
	value		bigint NOT NULL,	-- what was measured
	threshold	bigint NOT NULL,	-- the setting it passed
	detail		text NOT NULL DEFAULT '',
	opened		timestamptz NOT NULL DEFAULT now(),
	seen		timestamptz NOT NULL DEFAULT now(),	-- last held
	closed		timestamptz,
	mail_sent	timestamptz,
	webhook_sent	timestamptz,
	PRIMARY KEY (domain, id)
);
-- at most one open episode per rule and key: the upsert's conflict target
CREATE UNIQUE INDEX alert_episode_open ON alert_episode (domain, rule, key)
    WHERE closed IS NULL;
CREATE INDEX alert_episode_unsent ON alert_episode (opened)
    WHERE mail_sent IS NULL OR webhook_sent IS NULL;

-- What a rule measures from between evaluations (the quarantine's count).
CREATE TABLE alert_mark (
	domain		text NOT NULL DEFAULT '',
	name		text NOT NULL,
	value		bigint NOT NULL,
	at		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, name)
);
