-- 012_classifier: what source_host's classification was made with.  The
-- enricher (src/classify.c) hashes the built-in service catalogue, the
-- services_file and the geoip_db files' descriptions into fingerprint;
-- when it differs from the one here, every classified address is
-- classified again (classified = NULL), so an edited services_file or a
-- new GeoIP database reaches the sources already seen.  One row.
CREATE TABLE classifier (
	id		boolean PRIMARY KEY DEFAULT true CHECK (id),
	fingerprint	text NOT NULL,
	changed		timestamptz NOT NULL DEFAULT now()
);
