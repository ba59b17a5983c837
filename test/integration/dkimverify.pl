#!/usr/bin/perl
# dkimverify.pl - verify every DKIM-Signature of a message with Mail::DKIM.
#
# The second independent verifier of the integration tests (dkimverify.py
# uses dkimpy). Keys are looked up only at --dns-host/--dns-port (the test's
# knotd on loopback). Prints one line per signature,
# "d=DOMAIN s=SELECTOR a=ALGORITHM RESULT (detail)", then a summary. Exit 0
# only if there are at least --min signatures, all pass, and every domain of
# --expect-domains has a passing signature. Mail::DKIM of Debian 12 (1.2023)
# cannot verify ed25519-sha256: such signatures are listed as "skip" and
# counted neither way (dkimverify.py checks them).
use strict;
use warnings;
use Getopt::Long;
use Mail::DKIM::Verifier;
use Mail::DKIM::DNS;
use Net::DNS::Resolver;

my ($dns_host, $dns_port, $min, $expect) = ('127.0.0.1', 5353, 1, '');
GetOptions(
    'dns-host=s'       => \$dns_host,
    'dns-port=i'       => \$dns_port,
    'min=i'            => \$min,
    'expect-domains=s' => \$expect,
) && @ARGV == 1
  or die "usage: dkimverify.pl [--dns-host H] [--dns-port P] [--min N] "
  . "[--expect-domains d1,d2] FILE\n";

# Only our server: no search list, no recursion wanted, short timeouts.
my $res = Net::DNS::Resolver->new(
    nameservers => [$dns_host],
    port        => $dns_port,
    recurse     => 0,
    defnames    => 0,
    dnsrch      => 0,
    retry       => 1,
    udp_timeout => 5,
    tcp_timeout => 5,
);
Mail::DKIM::DNS::resolver($res);

my $file = $ARGV[0];
open(my $fh, '<:raw', $file) or die "dkimverify.pl: $file: $!\n";
my $msg = do { local $/; <$fh> };
close($fh);
$msg =~ s/\r?\n/\r\n/g;

my $dkim = Mail::DKIM::Verifier->new();
$dkim->PRINT($msg);
$dkim->CLOSE();

my (%passed, $n, $fail);
$n = $fail = 0;
foreach my $sig ($dkim->signatures) {
    # Mail::DKIM also lists DomainKeys signatures; only DKIM counts here.
    next unless ref($sig) =~ /DKIM::Signature$/;
    my $result = $sig->result // 'none';
    my $detail = $sig->result_detail // '';
    if (lc($sig->algorithm // '') eq 'ed25519-sha256'
        && $detail =~ /unsupported algorithm/) {
        printf "d=%s s=%s a=%s skip (this Mail::DKIM has no Ed25519)\n",
          $sig->domain // '?', $sig->selector // '?', $sig->algorithm;
        next;
    }
    $n++;
    printf "d=%s s=%s a=%s %s%s\n", $sig->domain // '?', $sig->selector // '?',
      $sig->algorithm // '?', $result eq 'pass' ? 'pass' : 'fail',
      $result eq 'pass' ? '' : " ($detail)";
    if ($result eq 'pass') {
        $passed{ lc($sig->domain) } = 1;
    } else {
        $fail++;
    }
}

my $ok = 1;
if ($n < $min) {
    print "dkimverify.pl: $n signature(s), at least $min required\n";
    $ok = 0;
}
$ok = 0 if $fail;
foreach my $want (grep { length } split /,/, lc $expect) {
    next if $passed{$want};
    print "dkimverify.pl: no passing signature with d=$want\n";
    $ok = 0;
}
printf "dkimverify.pl: %d signature(s), %d pass, %d fail\n", $n, $n - $fail, $fail;
exit($ok ? 0 : 1);
