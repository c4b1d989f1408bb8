#!/usr/bin/perl
# Mounts a host directory into (or unmounts it from) the mount namespace of a
# running process, without anything from the target's filesystem:
#   nsmount.pl bind   PID HOST_DIR TARGET   open_tree(HOST_DIR, clone|recursive),
#                                           setns(PID's mnt ns), mkdir -p TARGET,
#                                           move_mount(tree -> TARGET)
#   nsmount.pl unbind PID TARGET            setns, umount2(TARGET) (MNT_DETACH when busy)
# Arguments are data, never evaluated. Needs root and Linux >= 5.2.
use strict;
use warnings;
use File::Path qw(make_path);

my %SETNS = (x86_64 => 308, aarch64 => 268);
my %UMOUNT2 = (x86_64 => 166, aarch64 => 39);
my $arch = (POSIX::uname())[4];
use POSIX ();
my $setns = $SETNS{$arch} or die "unsupported architecture $arch\n";
my $umount2 = $UMOUNT2{$arch};
my ($OPEN_TREE, $MOVE_MOUNT) = (428, 429);
my ($AT_FDCWD, $OPEN_TREE_CLONE, $AT_RECURSIVE, $MOVE_MOUNT_F_EMPTY_PATH, $CLONE_NEWNS, $MNT_DETACH) = (-100, 1, 0x8000, 4, 0x20000, 2);

my ($op, $pid, @rest) = @ARGV;
die "usage: nsmount.pl bind PID HOST_DIR TARGET | unbind PID TARGET\n" unless $op && $pid && $pid =~ /^\d+$/;

sub enter {
  open(my $ns, '<', "/proc/$pid/ns/mnt") or die "cannot open mount namespace of $pid: $!\n";
  syscall($setns, fileno($ns), $CLONE_NEWNS) == 0 or die "setns: $!\n";
  chdir('/') or die "chdir: $!\n";
}

if ($op eq 'bind') {
  my ($src, $dst) = @rest;
  die "target must be absolute\n" unless defined $dst && $dst =~ m{^/} && $dst !~ m{(^|/)\.\.(/|$)};
  my $tree = syscall($OPEN_TREE, $AT_FDCWD, $src, $OPEN_TREE_CLONE | $AT_RECURSIVE);
  die "open_tree $src: $!\n" if $tree < 0;
  enter();
  make_path($dst) unless -d $dst;
  my $empty = ''; syscall($MOVE_MOUNT, $tree, $empty, $AT_FDCWD, $dst, $MOVE_MOUNT_F_EMPTY_PATH) == 0 or die "move_mount to $dst: $!\n";
} elsif ($op eq 'unbind') {
  my ($dst) = @rest;
  die "target must be absolute\n" unless defined $dst && $dst =~ m{^/};
  enter();
  # a plain unmount first, so the filesystem (and its loop device) is really released; lazy only when busy
  exit 0 if syscall($umount2, $dst, 0) == 0;
  if (syscall($umount2, $dst, $MNT_DETACH) != 0) {
    exit 0 if $!{EINVAL} || $!{ENOENT}; # not mounted: nothing to do
    die "umount $dst: $!\n";
  }
} else {
  die "unknown operation $op\n";
}
