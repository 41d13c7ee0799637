# gen-migrations.awk - sql/NNN_name.sql files -> a C table of migrations,
# so the binary carries its schema and needs no file at run time.
BEGIN {
	print "/* Generated from sql/NNN_name.sql by db/gen-migrations.awk. */"
	print "#include \"config.h\""
	print "#include \"db.h\""
	print "const struct db_migration db_migrations[] = {"
	n = 0
}
FNR == 1 {
	if (n++)
		print "\t\"\" },"
	name = FILENAME
	sub(/.*\//, "", name)
	sub(/\.sql$/, "", name)
	version = name
	sub(/_.*/, "", version)
	printf "\t{ %d, \"%s\",\n", version + 0, name
}
{
	gsub(/\\/, "\\\\")
	gsub(/"/, "\\\"")
	gsub(/\t/, "\\t")
	printf "\t\"%s\\n\"\n", $0
}
END {
	if (n)
		print "\t\"\" },"
	print "};"
	printf "const size_t db_n_migrations = %d;\n", n
}
