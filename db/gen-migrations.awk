# gen-migrations.awk - sql/NNN_name.sql files and sql/functions.sql -> C:
# the table of migrations and the functions text, so the binary carries
# its schema and needs no file at run time.  The migrations come first,
# in order; functions.sql may be anywhere in the list.
function flush() {
	if (cur == "")
		return
	if (cur == "functions")
		functions = text
	else
		migrations = migrations "\t{ " version + 0 ", \"" cur "\",\n" \
		    text "\t\"\" },\n"
	n += cur != "functions"
	cur = text = ""
}
BEGIN {
	n = 0
	cur = text = migrations = functions = ""
}
FNR == 1 {
	flush()
	cur = FILENAME
	sub(/.*\//, "", cur)
	sub(/\.sql$/, "", cur)
	if (cur != "functions" && cur !~ /^[0-9][0-9][0-9]_/) {
		print FILENAME ": not NNN_name.sql or functions.sql" \
		    > "/dev/stderr"
		exit 1
	}
	version = cur
	sub(/_.*/, "", version)
}
{
	gsub(/\\/, "\\\\")
	gsub(/"/, "\\\"")
	gsub(/\t/, "\\t")
	text = text "\t\"" $0 "\\n\"\n"
}
END {
	flush()
	print "/* Generated from sql/ by db/gen-migrations.awk. */"
	print "#include \"config.h\""
	print "#include \"db.h\""
	print "const struct db_migration db_migrations[] = {"
	printf "%s", migrations
	print "};"
	printf "const size_t db_n_migrations = %d;\n", n
	print "const char db_functions[] ="
	printf "%s", functions == "" ? "\t\"\"\n" : functions
	print "\t\"\";"
}
