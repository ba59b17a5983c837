#!/usr/bin/perl
# dmarc_report_read.pl - read DMARC aggregate report messages (.eml files)
# back with Debian's Mail::DMARC (libmail-dmarc-perl), an independent
# parser: its receiver takes the MIME message apart, gunzips the
# application/gzip part and parses the XML. Its store is not used: the
# parsed report is printed instead, one line each:
#   parsed DOMAIN ORG REPORT_ID BEGIN END p=P sp=SP pct=PCT
#   row SOURCE_IP COUNT DISPOSITION dkim=PASS|FAIL spf=PASS|FAIL HEADER_FROM
# and "total DOMAIN N" with the sum of the counts.
use strict;
use warnings;
use Mail::DMARC::Report::Receive;

# The parsed report is kept, not saved into Mail::DMARC's SQL store.
no warnings 'redefine';
*Mail::DMARC::Report::save_aggregate = sub { return 1 };
use warnings 'redefine';

foreach my $file (@ARGV) {
    my $recv = Mail::DMARC::Report::Receive->new;
    my $type = $recv->from_file($file) || '';
    die "$file: not an aggregate report ($type)\n" if $type ne 'aggregate';
    my $agg = $recv->report->aggregate;
    my $md = $agg->metadata;
    my $pol = $agg->policy_published;
    printf "parsed %s %s %s %s %s p=%s sp=%s pct=%s\n", $pol->domain,
        $md->org_name, $md->report_id, $md->begin, $md->end, $pol->p,
        $pol->sp // '-', $pol->pct // '-';
    my $total = 0;
    foreach my $rec (@{ $agg->record }) {
        my $pe = $rec->row->policy_evaluated;
        printf "row %s %s %s dkim=%s spf=%s %s\n", $rec->row->source_ip,
            $rec->row->count, $pe->disposition, $pe->dkim, $pe->spf,
            $rec->identifiers->header_from;
        $total += $rec->row->count;
    }
    printf "total %s %d\n", $pol->domain, $total;
}
