#!/usr/bin/env python3
"""bench_ingest.py - `dmarcd ingest` end to end into the embedded cluster
(fsync on, synchronous_commit on: the product's defaults), beside the same
database's own COPY of the same rows (the ceiling), in the same run.

Two corpora from gen-reports: the main one as a Maildir (--reports 2000
--domains 50 --seed 5) and the 50,000-record report (--reports 1 --records
50000 --seed 1).  Each run starts from an empty database; figures are the
median of --runs (3): seconds, records/s, peak RSS of dmarcd.  The ceiling
is `\\copy record FROM` a CSV of exactly the rows dmarcd stored, into the
same (emptied) table with its indexes.  The floor is the \\copy of every
row dmarcd stored (reports, records, documents and the dashboard's
rollups) in one transaction: the least any ingest that writes its rollups
in its own transaction can take here.  The default ingest folds the
rollups on a second connection meanwhile (timed until all are folded:
ingest returns then); each corpus is also ingested with
ingest_fold_rollups = 0 (the rollups in each batch's transaction).  Prints
figures; never passes or fails.

usage: bench_ingest.py DMARCD [--runs N] [--shared DIR] [--keep DIR]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time


def sh(argv, env=None, check=True):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env)
    if check and r.returncode != 0:
        sys.exit("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode,
                                        r.stdout.decode(errors="replace"),
                                        r.stderr.decode(errors="replace")))
    return r


class Bench:
    def __init__(self, dmarcd, tmp):
        self.dmarcd = dmarcd
        self.tmp = tmp
        self.env = dict(os.environ)
        self.env.update({"DMARCD_STATE_DIR": os.path.join(tmp, "state"),
                         "DMARCD_CONF": os.path.join(tmp, "none.conf"),
                         "DMARCD_DB": ""})
        open(self.env["DMARCD_CONF"], "w").close()
        sh([dmarcd, "db", "migrate"], env=self.env)
        out = sh([dmarcd, "db", "status"], env=self.env).stdout.decode()
        sock = [l.split(":", 1)[1].strip() for l in out.splitlines()
                if l.startswith("socket:")]
        if not sock:
            out = sh([dmarcd, "db", "cluster-status"], env=self.env,
                     check=False).stdout.decode()
        self.sock = os.path.dirname(sock[0]) if sock and \
            sock[0].endswith(".5432") else (sock[0] if sock else None)
        self.psql_bin = self._find_psql()

    def _find_psql(self):
        for v in sorted(os.listdir("/usr/lib/postgresql"), reverse=True):
            p = "/usr/lib/postgresql/%s/bin/psql" % v
            if os.path.exists(p):
                return p
        return "psql"

    def psql(self, sql, db="dmarcd"):
        return sh([self.psql_bin, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1",
                   "-h", self.sock, "-U", "dmarcd", "-d", db, "-c", sql]
                  ).stdout.decode()

    def fresh(self):
        """An empty database at the latest schema."""
        self.psql("DROP DATABASE IF EXISTS dmarcd WITH (FORCE)", "postgres")
        self.psql("CREATE DATABASE dmarcd", "postgres")
        sh([self.dmarcd, "db", "migrate"], env=self.env)

    def ingest(self, path, conf=None):
        """Seconds, records, peak RSS (KiB) of one ingest."""
        env = dict(self.env)
        if conf:
            env["DMARCD_CONF"] = conf
        t0 = time.perf_counter()
        r = sh(["/usr/bin/time", "-f", "RSS %M", self.dmarcd, "ingest", "-q",
                path], env=env)
        secs = time.perf_counter() - t0
        out = r.stdout.decode()
        recs = int(out.split(" records,")[0].split(", ")[-1])
        rss = int([l for l in r.stderr.decode().splitlines()
                   if l.startswith("RSS ")][-1].split()[1])
        return secs, recs, rss

    def floor(self):
        """Seconds of \\copy of everything dmarcd stored for the corpus --
        reports, records, documents and every dashboard rollup -- into the
        emptied tables, in one transaction: what storing these rows costs
        this database by its fastest path, with no parsing, no dedup and no
        aggregation.  With the rollups in the ingest's transaction (the
        issue's design), no ingest can beat it."""
        # the tables themselves, not their month partitions
        tables = ["report", "record", "report_document", "auth_profile",
                  "sim_day"] + self.psql(
            "SELECT relname FROM pg_class WHERE relnamespace ="
            " 'public'::regnamespace AND relkind IN ('r', 'p') AND NOT"
            " relispartition AND relname LIKE 'dash\\_%' ORDER BY 1").split()
        files = []
        for t in tables:
            f = os.path.join(self.tmp, "floor-%s.copy" % t)
            self.psql("\\copy (SELECT * FROM %s) TO '%s'" % (t, f))
            files.append((t, f))
        self.psql("TRUNCATE " + ", ".join(tables))
        self.psql("CHECKPOINT")
        script = os.path.join(self.tmp, "floor.sql")
        with open(script, "w") as out:
            out.write("BEGIN;\n")
            for t, f in files:
                out.write("\\copy %s FROM '%s'\n" % (t, f))
            out.write("COMMIT;\n")
        t0 = time.perf_counter()
        sh([self.psql_bin, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
            self.sock, "-U", "dmarcd", "-d", "dmarcd", "-f", script])
        secs = time.perf_counter() - t0
        for _, f in files:
            os.unlink(f)
        return secs

    def copy_ceiling(self):
        """Seconds of \\copy of what dmarcd stored, into the emptied
        table, one transaction (one fsync) like COPY on its own."""
        csv = os.path.join(self.tmp, "record.csv")
        if os.path.exists(csv):
            os.unlink(csv)
        # a partitioned table copies out through a query
        self.psql("\\copy (SELECT * FROM record) TO '%s' WITH (FORMAT csv)"
                  % csv)
        n = int(self.psql("SELECT count(*) FROM record").strip())
        self.psql("TRUNCATE record")
        self.psql("CHECKPOINT")
        t0 = time.perf_counter()
        self.psql("\\copy record FROM '%s' WITH (FORMAT csv)" % csv)
        secs = time.perf_counter() - t0
        return secs, n


def corpus(shared, out, args):
    if not os.path.isdir(out):
        sh([sys.executable, os.path.join(shared, "tools", "gen-reports"),
            "--out", out] + args)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dmarcd")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--shared", default=os.environ.get("DMARCD_SHARED",
                                                       "/work/shared"))
    ap.add_argument("--keep", help="cache the generated corpora here")
    ap.add_argument("--sql", help="run this after each migrate (diagnosis: "
                    "e.g. 'ALTER TABLE report DISABLE TRIGGER USER')")
    a = ap.parse_args()
    dmarcd = os.path.abspath(a.dmarcd)
    cache = a.keep or tempfile.mkdtemp(prefix="dmarcd-bench-corpus-")
    tmp = tempfile.mkdtemp(prefix="dmarcd-bench-ingest-")
    os.chmod(tmp, 0o755)
    main_c = corpus(a.shared, os.path.join(cache, "main"),
                    ["--reports", "2000", "--domains", "50", "--seed", "5",
                     "--formats", "native,eml"])
    big_c = corpus(a.shared, os.path.join(cache, "big"),
                   ["--reports", "1", "--records", "50000", "--seed", "1",
                    "--formats", "native"])
    b = Bench(dmarcd, tmp)
    try:
        # the default folds the rollups on a second connection; the
        # other mode writes them in each batch's transaction
        sync = os.path.join(tmp, "sync.conf")
        with open(sync, "w") as f:
            f.write("ingest_fold_rollups = 0\n")
        os.chmod(sync, 0o600)
        cases = [("maildir (2000 messages)", os.path.join(main_c, "maildir"),
                  None),
                 ("  the same, rollups in the batch", os.path.join(
                     main_c, "maildir"), sync),
                 ("50k-record report", os.path.join(big_c, "native"), None),
                 ("  the same, rollups in the batch", os.path.join(
                     big_c, "native"), sync)]
        print("%-26s %8s %10s %9s | %8s %10s %6s" % (
            "corpus", "seconds", "records/s", "peak RSS", "COPY s",
            "COPY r/s", "ratio"))
        for name, src, conf in cases:
            runs = []
            for _ in range(a.runs):
                b.fresh()
                if a.sql:
                    b.psql(a.sql)
                work = os.path.join(tmp, "input")
                shutil.rmtree(work, ignore_errors=True)
                shutil.copytree(src, work)
                b.psql("CHECKPOINT")
                secs, recs, rss = b.ingest(work, conf)
                fsecs = b.floor()
                csecs, n = b.copy_ceiling()
                runs.append((secs, recs, rss, csecs, n, fsecs))
            secs = statistics.median(r[0] for r in runs)
            recs = runs[0][1]
            rss = statistics.median(r[2] for r in runs)
            csecs = statistics.median(r[3] for r in runs)
            print("%-26s %8.2f %10.0f %6.1f MB | %8.2f %10.0f %5.1fx" % (
                name, secs, recs / secs, rss / 1024, csecs,
                runs[0][4] / csecs, secs / csecs))
            print("  runs: " + ", ".join(
                "%.2fs/%.2fs" % (r[0], r[3]) for r in runs) +
                "  (ingest/COPY; %d records)" % recs)
            fsecs = statistics.median(r[5] for r in runs)
            print("  floor: COPY of every row stored (reports, records, "
                  "documents, rollups), one transaction: %.2f s = %.0f "
                  "records/s, %.1fx the COPY of records; ingest is %.1fx "
                  "the floor" % (fsecs, recs / fsecs, fsecs / csecs,
                                 secs / fsecs))
    finally:
        sh([dmarcd, "db", "stop"], env=b.env, check=False)
        shutil.rmtree(tmp, ignore_errors=True)
        if not a.keep:
            shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
