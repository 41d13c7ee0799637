# mkmmdb.pl OUT TYPE NET FIELDS... - a small MMDB for the tests: each NET
# (CIDR) with FIELDS, a Perl list of key => value pairs (country => {
# iso_code => "DE" } for maps).  Reserved networks are kept: the tests use
# documentation addresses.
use strict; use warnings;
use MaxMind::DB::Writer::Tree;
my ($out, $type, @nets) = @ARGV;
my %types = (autonomous_system_number => 'uint32', autonomous_system_organization => 'utf8_string',
  country => 'map', iso_code => 'utf8_string', asn => 'utf8_string', as_name => 'utf8_string', country_code => 'utf8_string');
my $t = MaxMind::DB::Writer::Tree->new(ip_version => 6, record_size => 24, database_type => $type,
  languages => ['en'], description => { en => 'dmarcd test' }, map_key_type_callback => sub { $types{$_[0]} },
  merge_strategy => 'none', alias_ipv6_to_ipv4 => 1, remove_reserved_networks => 0);
while (@nets) { my $net = shift @nets; my $json = shift @nets;
  my %h = eval $json; $t->insert_network($net, \%h); }
open my $fh, '>:raw', $out or die; $t->write_tree($fh); close $fh;
