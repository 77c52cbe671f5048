#!/usr/bin/perl
# forks.pl OUT STEPS DELAY_MS: Perl with forked workers under a checkpoint.
# Three children are forked at the start, each with a pipe from the parent
# and a socketpair back; each step the parent sends every child the step,
# a child hashes a chain of MD5 digests (pure Perl work, its own heap
# growing a hash) and answers; a SIGCHLD handler counts children reaped at
# the end and a SIGALRM interval timer ticks throughout. One line per step:
# the step and the answers in child order, the same on every run.
use strict;
use warnings;
use Digest::MD5 qw(md5_hex);
use IO::Handle;
use Socket;
use Time::HiRes qw(usleep setitimer ITIMER_REAL);

my ($out, $steps, $delay) = @ARGV;
die "usage: forks.pl OUT STEPS DELAY_MS\n" unless defined $delay;
my $reaped = 0;
my $ticks  = 0;
$SIG{CHLD} = sub { while (waitpid(-1, 1) > 0) { $reaped++ } };
$SIG{ALRM} = sub { $ticks++ };

my @kids;
for my $i (0 .. 2) {
    pipe(my $r, my $w) or die "pipe: $!";
    socketpair(my $ps, my $cs, AF_UNIX, SOCK_STREAM, PF_UNSPEC) or die "socketpair: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        close $w;
        close $ps;
        $cs->autoflush(1);
        my %seen;
        while (my $step = <$r>) {
            chomp $step;
            my $h = "$step/$i";
            for my $k (1 .. 20000) {
                $h = md5_hex($h);
                $seen{substr($h, 0, 4)}++ if $k % 16 == 0;
            }
            print $cs "$h " . scalar(keys %seen) . "\n";
        }
        exit 0;
    }
    close $r;
    close $cs;
    $w->autoflush(1);
    push @kids, [$pid, $w, $ps];
}
setitimer(ITIMER_REAL, 0.01, 0.01);
open(my $f, '>', $out) or die "$out: $!";
$f->autoflush(1);
my $total = '';
for my $s (0 .. $steps - 1) {
    print { $_->[1] } "$s\n" for @kids;
    my @ans;
    for my $k (@kids) {
        my $line;
        # A read interrupted by SIGALRM or SIGCHLD returns undef with EINTR.
        do { $line = readline($k->[2]) } until defined $line or !$!{EINTR};
        die "child $k->[0]: $!" unless defined $line;
        chomp $line;
        push @ans, $line;
    }
    my $line = "$s @ans";
    $total = md5_hex($total . $line);
    print $f "$line\n";
    usleep($delay * 1000) if $delay;
}
setitimer(ITIMER_REAL, 0, 0);
close $_->[1] for @kids;
while ($reaped < 3) { sleep 1 }
print $f "done $total reaped $reaped\n";
close $f;
