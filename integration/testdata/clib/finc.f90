! finc: the Fortran interface with the constants of chkpnt.inc; errno is
! read with gfortran's IERRNO. A restart of a missing file (ENOENT),
! exclusive options (EINVAL), then a checkpoint of the program itself
! under a name with trailing blanks (they are not part of the name).
program finc
  implicit none
  include 'chkpnt.inc'
  integer chkpnt, restart, r
  r = restart('no-such.img', 0, 0)
  write(*, '(a,i0,a,i0)') 'restart ', r, ' ', ierrno()
  r = chkpnt(CHKPNT_PROC, 0, 'x.img', CHKPNT_SIGROOT + CHKPNT_SIGFAMILY, 15)
  write(*, '(a,i0,a,i0)') 'chkpnt ', r, ' ', ierrno()
  r = chkpnt(CHKPNT_PROC, 0, 'self.img    ', CHKPNT_FORCE, 0)
  write(*, '(a,i0)') 'self ', r
end program finc
