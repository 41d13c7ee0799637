-- 011_source_host: what is known of each source IP (enrichment), one row
-- per address across every domain: who it is does not depend on whose
-- report named it, so the key has no domain (as dash_ip_all, it is
-- rebuilt from record if ever needed; it is derived data, and a
-- distributed schema keeps it as a reference table).
--
-- The rollup (dmarcd_rollup_set) inserts every new address as 'pending',
-- in the transaction that stores its report: finding the IPs to look up
-- is then one index scan, whatever the size of record, and no address is
-- missed.  The enricher (src/enricher.c: `dmarcd enrich`, lmtp's
-- background thread) answers them, outside any delivery.
--
-- state: the PTR lookup's outcome.  ok: a PTR name (ptr); nxdomain: no
-- PTR (the name does not exist, or exists without a PTR: nodata);
-- servfail, refused, timeout, error: no answer, retried after
-- dns_error_ttl.  ptr is the first PTR name in DNS presentation form
-- (bytes outside printable ASCII as backslash and three digits, so it is text whatever the
-- server sent), at most 253 bytes + the escapes of a 253-byte name, never
-- trusted as markup.  ptr_verified: the name's A/AAAA hold the address
-- (forward-confirmed).  expires: when the answer is looked up again
-- (`dmarcd enrich --refresh`); NULL while pending.
--
-- base_domain .. country are classified from ptr, the IP's records and
-- the MMDB files (src/classify.c); classified is when, NULL when that is
-- to be done again: a new DNS answer, a changed catalogue, or new records
-- of an address no service was found for (the rollup).
CREATE TABLE source_host (
	ip		inet NOT NULL PRIMARY KEY,
	state		text NOT NULL DEFAULT 'pending' CHECK (state IN
			    ('pending', 'ok', 'nxdomain', 'servfail',
			    'refused', 'timeout', 'error')),
	ptr		text,
	ptr_verified	boolean NOT NULL DEFAULT false,
	looked_up	timestamptz,
	expires		timestamptz,
	base_domain	text,
	service		text,
	service_type	text,
	asn		bigint,
	as_org		text,
	country		text,
	classified	timestamptz
);
CREATE INDEX source_host_pending ON source_host (ip)
    WHERE state = 'pending';
CREATE INDEX source_host_expires ON source_host (expires)
    WHERE state <> 'pending';
CREATE INDEX source_host_unclassified ON source_host (ip)
    WHERE classified IS NULL;
-- the Sources page sorts and filters by service and type
CREATE INDEX source_host_service ON source_host (service, ip);

-- every address already rolled up waits for its first lookup
INSERT INTO source_host (ip)
SELECT DISTINCT source_ip FROM dash_ip_all ORDER BY 1;
