/*
 * migrate_fixture.c - db/migrate.c with migrations of its own, for
 * test_db.py: a base at version 10 (as sql/010_schema.sql is) and a next
 * migration 011 that must apply once, then functions written for 011.
 * Its tables stand in for the real schema, which is not linked in (these
 * definitions take the place of the generated db/migrations.c).
 *
 * usage: migrate_fixture URL TARGET (0: the latest); prints "FROM TO".
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "db.h"

const struct db_migration db_migrations[] = {
	{ 10, "010_base", "CREATE TABLE fixture_t (a integer NOT NULL);\n" },
	/* counts its own runs: a second application would add a row */
	{ 11, "011_next", "ALTER TABLE fixture_t ADD b integer;\n"
	    "INSERT INTO fixture_t VALUES (11, 11);\n" },
};
const size_t db_n_migrations = sizeof(db_migrations) /
    sizeof(db_migrations[0]);
/* reads 011's column: applied after the migrations, not before */
const char db_functions[] =
	"CREATE OR REPLACE FUNCTION fixture_f() RETURNS bigint LANGUAGE sql\n"
	"    AS $$ SELECT sum(b) FROM fixture_t $$;\n"
	"CREATE OR REPLACE VIEW fixture_v AS SELECT fixture_f() AS f;\n";

int
main(int argc, char *argv[])
{
	struct db_config	 cfg = { 0 };
	struct db		*db;
	char			 err[1024];
	int			 from, to;

	if (argc != 3) {
		fprintf(stderr, "usage: migrate_fixture URL TARGET\n");
		return 2;
	}
	cfg.url = argv[1];
	if (db_open(&cfg, false, &db, err, sizeof(err)) != 0 ||
	    db_migrate(db, atoi(argv[2]), &from, &to, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%d %d\n", from, to);
	db_close(&db);
	return 0;
}
