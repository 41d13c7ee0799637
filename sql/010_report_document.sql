-- 010_report_document: the aggregate report's document itself, so the
-- dashboard can show the XML a figure came from.  gzip (written by dmarcd,
-- level 1: reports shrink about 10x), stored as it is: EXTERNAL, so
-- PostgreSQL does not try to compress it again.  gz is NULL when the
-- document was not kept (larger than max_stored_document gzipped, or that
-- setting is 0); size is still the document's.  Reports stored before
-- this version have no row.  Derived from nothing: the original bytes, as
-- the quarantine keeps what could not be parsed.
CREATE TABLE report_document (
	domain		text NOT NULL,
	report		bigint NOT NULL,	-- report.id
	size		bigint NOT NULL,	-- bytes of the document
	gz		bytea,			-- gzip of it, or NULL
	PRIMARY KEY (domain, report)
);
ALTER TABLE report_document ALTER COLUMN gz SET STORAGE EXTERNAL;
