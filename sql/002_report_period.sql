-- 002_report_period: export and the dashboard select reports by period.
CREATE INDEX report_period ON report (domain, begin_time);
CREATE INDEX quarantine_open ON quarantine (id) WHERE resolved IS NULL;
