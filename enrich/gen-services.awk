# gen-services.awk - enrich/services.conf -> C: the catalogue's text as a
# string, so dmarcd carries it and needs no file at run time.
BEGIN {
	print "/* Generated from enrich/services.conf by enrich/gen-services.awk. */"
	print "#include \"config.h\""
	print "#include \"services.h\""
	print "const char services_builtin[] ="
}
{
	gsub(/\\/, "\\\\")
	gsub(/"/, "\\\"")
	gsub(/\t/, "\\t")
	print "\t\"" $0 "\\n\""
}
END {
	print "\t\"\";"
}
