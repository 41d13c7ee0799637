-- 010_report_document: the aggregate report's document itself, so the
-- dashboard can show the XML a figure came from.  gzip (written by dmarcd,
-- level 1: reports shrink about 10x), stored as it is: EXTERNAL, so
-- PostgreSQL does not try to compress it again.  gz is NULL when the
-- document was not kept (larger than max_stored_document gzipped, or that
-- setting is 0); size is still the document's.  Reports stored before
-- this version have no row.  Not derived data: the original bytes, as the
-- quarantine keeps those of what could not be parsed.
CREATE TABLE report_document (
	domain		text NOT NULL,
	report		bigint NOT NULL,	-- report.id
	size		bigint NOT NULL,	-- bytes of the document
	gz		bytea,			-- gzip of it, or NULL
	PRIMARY KEY (domain, report)
);
ALTER TABLE report_document ALTER COLUMN gz SET STORAGE EXTERNAL;

-- The documents go in with their reports' totals, at the end of the store
-- transaction, in the one call that already writes those: a bytea[]
-- parameter, not an INSERT (a round trip) per report: that made an
-- ingest of 2,000 reports 12% slower than keeping no documents (medians of
-- 3, same run); this way the difference is within the noise.  An element of
-- size -1 has no row (dmarcd inserted it on its own, or there is none); a
-- report rolled back since its document was queued has none either.
CREATE FUNCTION dmarcd_store_totals(p_domain text[], p_id bigint[],
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

DROP FUNCTION dmarcd_store_reports(text[], bigint[], bigint[], bigint[],
    text[]);
CREATE FUNCTION dmarcd_store_reports(p_domain text[], p_id bigint[],
    p_records bigint[], p_messages bigint[], p_sha256 text[],
    p_doc_size bigint[], p_doc bytea[]) RETURNS void
    LANGUAGE plpgsql AS $$
BEGIN
	PERFORM dmarcd_store_totals(p_domain, p_id, p_records, p_messages,
	    p_sha256, p_doc_size, p_doc);
	PERFORM dmarcd_rollup_set(p_domain, p_id);
END;
$$;

DROP FUNCTION dmarcd_store_reports_later(text[], bigint[], bigint[],
    bigint[], text[]);
CREATE FUNCTION dmarcd_store_reports_later(p_domain text[], p_id bigint[],
    p_records bigint[], p_messages bigint[], p_sha256 text[],
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
