#!/usr/bin/perl
# yun container supervisor for the oci driver.
#
# Usage: perl supervise.pl EXIT_FILE PID_FILE PRCTL_SYSCALL_NR [--umount-unified] -- RUNTIME ARG...
#
# PRCTL_SYSCALL_NR is prctl's syscall number on this architecture (157 on
# x86_64, 167 on aarch64), passed in so that no module has to be loaded.
#
# Makes itself a child subreaper, runs `RUNTIME ... run -d --pid-file PID_FILE`
# (given in ARG), and, since the detached container init is reparented to
# it, waits for that init and writes its exit status (code, or 128+signal)
# to EXIT_FILE atomically. The runtime keeps the stopped container and its
# cgroup (with the OOM-kill counter) until the driver deletes it.
#
# --umount-unified: unmount the empty hybrid cgroup2 mount crun rejects;
# only used inside a private mount namespace (unshare -m).
# Arguments are passed to the runtime as a list: no shell is involved.
use strict;
use warnings;

my ($exit_file, $pid_file, $nr) = splice(@ARGV, 0, 3);
if (@ARGV && $ARGV[0] eq '--umount-unified') {
  shift @ARGV;
  system('umount', '/sys/fs/cgroup/unified') if mounted('/sys/fs/cgroup/unified');
}
shift @ARGV if @ARGV && $ARGV[0] eq '--';

# prctl(PR_SET_CHILD_SUBREAPER = 36, 1)
syscall(int($nr), 36, 1, 0, 0, 0) == 0 or die "supervise.pl: prctl: $!\n";

my $rc = system { $ARGV[0] } @ARGV;
if ($rc != 0) {
  record($rc == -1 ? 127 : status($rc));
  exit 1;
}
open(my $fh, '<', $pid_file) or do { record(127); die "supervise.pl: no pid file\n" };
my $cpid = <$fh>;
close $fh;
$cpid = int($cpid // 0);
while (1) {
  my $p = waitpid(-1, 0);
  if ($p == -1) { record(255); last }    # lost the container (should not happen)
  if ($p == $cpid) { record(status($?)); last }
}

sub status { my $s = shift; return ($s & 127) ? 128 + ($s & 127) : ($s >> 8) }

sub record {
  my $code = shift;
  open(my $out, '>', "$exit_file.tmp") or die "supervise.pl: $exit_file: $!\n";
  print $out "$code\n";
  close $out;
  rename("$exit_file.tmp", $exit_file) or die "supervise.pl: rename: $!\n";
}

sub mounted {
  my $target = shift;
  open(my $m, '<', '/proc/self/mountinfo') or return 0;
  while (<$m>) { my @f = split / /; return 1 if $f[4] eq $target }
  return 0;
}
