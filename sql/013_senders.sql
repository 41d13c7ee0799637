-- 013_senders: the approved senders of each policy domain, what its owner
-- says is theirs (`dmarcd senders`; policy/senders.h matches them).  A
-- rule is a kind and a value, stored in the normal form
-- policy/senders.c writes (lower case domains, canonical networks), so
-- the key finds a rule however it was typed.  domain is report.domain
-- (lower case).  At most 10,000 rules a domain (SENDER_RULES_MAX,
-- checked by db/senders.c under a lock: a CHECK cannot count rows).
CREATE TABLE sender_rule (
	domain		text NOT NULL,
	kind		text NOT NULL CHECK (kind IN
			    ('service', 'cidr', 'ptr', 'dkim', 'spf')),
	value		text NOT NULL,
	note		text,
	added		timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (domain, kind, value)
);
