#!/usr/bin/perl
# punch-holes.pl FILE: gives back the disk space of every range of FILE that
# reads as a hole (lseek SEEK_HOLE), which includes unwritten (preallocated,
# zero-reading) extents: fallocate(PUNCH_HOLE|KEEP_SIZE) on each. The bytes
# read are unchanged. QEMU writes a copy's zero ranges with
# fallocate(ZERO_RANGE), which allocates; `fallocate --dig-holes` skips those
# ranges because SEEK_DATA already calls them holes. The path is data, never
# evaluated.
use strict;
use warnings;
use POSIX ();

my %FALLOCATE = (x86_64 => 285, aarch64 => 47);
my $arch = (POSIX::uname())[4];
my $fallocate = $FALLOCATE{$arch} or die "unsupported architecture $arch\n";
my ($SEEK_DATA, $SEEK_HOLE, $PUNCH_HOLE_KEEP_SIZE) = (3, 4, 0x02 | 0x01);

my ($path) = @ARGV;
die "usage: punch-holes.pl FILE\n" unless defined $path;
open(my $fh, '+<', $path) or die "open $path: $!\n";
my $end = -s $fh;
my $pos = 0;
while ($pos < $end) {
  my $hole = sysseek($fh, $pos, $SEEK_HOLE);
  last if !defined $hole || $hole >= $end;
  my $data = sysseek($fh, $hole, $SEEK_DATA);
  $data = $end if !defined $data; # ENXIO: a hole up to the end
  syscall($fallocate, fileno($fh), $PUNCH_HOLE_KEEP_SIZE, $hole + 0, $data - $hole) == 0 or die "fallocate $path: $!\n";
  $pos = $data;
}
