"""dbfix.py - fixtures for the database tests: aggregate reports written
here (no corpus copied), wrapped as gzip or email, and Maildir helpers."""
import base64
import gzip
import json
import os
import subprocess

from xml.sax.saxutils import escape


def report_xml(org="Example Receiver", report_id="r-1", domain="example.org",
               begin=1700006400, end=1700092799, records=None, extra=""):
    """An RFC 7489 aggregate report; records: list of dicts."""
    if records is None:
        records = [dict(ip="192.0.2.1", count=3)]
    recs = []
    for r in records:
        dkim = "".join(
            "<dkim><domain>%s</domain><selector>%s</selector>"
            "<result>%s</result>%s</dkim>" % (
                escape(d[0]), escape(d[1]), d[2],
                "<human_result>%s</human_result>" % escape(d[3])
                if len(d) > 3 else "")
            for d in r.get("dkim", [(domain, "s1", "pass")]))
        reasons = "".join(
            "<reason><type>%s</type><comment>%s</comment></reason>" % (
                escape(t), escape(c)) for t, c in r.get("reasons", []))
        recs.append(
            "<record><row><source_ip>%s</source_ip><count>%d</count>"
            "<policy_evaluated><disposition>%s</disposition><dkim>%s</dkim>"
            "<spf>%s</spf>%s</policy_evaluated></row>"
            "<identifiers>%s<header_from>%s</header_from></identifiers>"
            "<auth_results>%s<spf><domain>%s</domain><scope>mfrom</scope>"
            "<result>%s</result></spf></auth_results></record>" % (
                r["ip"], r["count"], r.get("disposition", "none"),
                r.get("dkim_eval", "pass"), r.get("spf_eval", "pass"),
                reasons,
                "<envelope_from>%s</envelope_from>" % escape(r["env_from"])
                if "env_from" in r else "",
                escape(r.get("header_from", domain)), dkim,
                escape(r.get("spf_domain", domain)), r.get("spf", "pass")))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<feedback>'
        "<version>1.0</version><report_metadata><org_name>%s</org_name>"
        "<email>dmarc@receiver.example</email>"
        "<extra_contact_info>%s</extra_contact_info>"
        "<report_id>%s</report_id><date_range><begin>%d</begin>"
        "<end>%d</end></date_range></report_metadata>"
        "<policy_published><domain>%s</domain><adkim>r</adkim>"
        "<aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct>"
        "</policy_published>%s%s</feedback>\n" % (
            escape(org), escape(extra), escape(report_id), begin, end,
            escape(domain), "".join(recs), "")).encode()


# The database refusing a report for good, at COMMIT, as it would a sum out
# of bigint's range: a deferred constraint trigger on report for the
# report_id 'refused-1'.  (Counts cannot do it: the parser caps one at 2^40,
# so a report's total fits.)  Run in the test's database once its schema is
# there.
REFUSE_AT_COMMIT = (
    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF NEW.report_id = 'refused-1' THEN RAISE numeric_value_out_of_range"
    " USING MESSAGE = 'bigint out of range (at commit)'; END IF;"
    " RETURN NULL; END $$; CREATE CONSTRAINT TRIGGER refuse AFTER INSERT"
    " ON report DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION"
    " refuse()")


def hostile_records():
    """Records whose strings exercise every escaping path (COPY, arrays,
    JSON, CSV)."""
    nasty = 'tab\there, nl\nthere, cr\rx, back\\slash, "quote", {brace},' \
        ' NULL, comma, ;semi, \u00e9t\u00e9 \u2603'
    return [
        dict(ip="192.0.2.10", count=5, reasons=[("local_policy", nasty)],
             dkim=[("example.org", "s{1}", "pass", nasty),
                   ("NULL", "", "fail", '"')],
             env_from="bounce.example.org"),
        dict(ip="2001:db8::1", count=7, disposition="quarantine",
             dkim_eval="fail", spf_eval="fail",
             header_from="Example.ORG", dkim=[]),
        dict(ip="198.51.100.200", count=1, reasons=[("forwarded", "")],
             dkim=[("a,b", "sel\\", "pass")]),
    ]


def eml(attachment, filename, ctype="application/gzip", subject="Report"):
    """An email carrying attachment (bytes) as a base64 MIME part."""
    b64 = base64.encodebytes(attachment).decode()
    return ("From: dmarc@receiver.example\r\nTo: dmarc@example.org\r\n"
            "Subject: %s\r\nMessage-ID: <%s@receiver.example>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; "
            "boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\n"
            "A report.\r\n--b1\r\nContent-Type: %s; name=\"%s\"\r\n"
            "Content-Transfer-Encoding: base64\r\nContent-Disposition: "
            "attachment; filename=\"%s\"\r\n\r\n%s\r\n--b1--\r\n" % (
                subject, filename.replace("!", "."), ctype, filename,
                filename, b64)).encode()


def gz(data):
    return gzip.compress(data, mtime=0)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def maildir(root):
    for d in ("new", "cur", "tmp"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    return root


def json_lines(text):
    return [json.loads(l) for l in text.splitlines() if l.strip()]


def run(args, env=None, timeout=300, **kw):
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=e, timeout=timeout, **kw)
