! fmpi OUT DATA STEPS DELAY_MS: Fortran MPI (mpif90) under a checkpoint.
! Each step every rank sends a 2 MiB message to its right neighbour with
! MPI_Isend and only then sleeps DELAY_MS before posting the MPI_Irecv
! from its left one (a large message is in flight, announced and not yet
! received, whenever the run is frozen in the sleep), then MPI_Waitall;
! MPI_Allreduce, MPI_Bcast, MPI_Alltoall and MPI_Gather combine the
! ranks' values; every rank writes its block of the step to DATA by
! MPI-IO (MPI_File_write_at_all on one file kept open for the run). Rank
! 0 writes one line per step to OUT. Same bytes in OUT and DATA on every
! run with the same number of ranks.
program fmpi
  use mpi
  use iso_c_binding, only: c_int
  implicit none
  interface
    integer(c_int) function usleep(us) bind(C, name='usleep')
      import :: c_int
      integer(c_int), value :: us
    end function
  end interface
  integer, parameter :: big = 262144, blk = 1024
  real(8), allocatable :: sbuf(:), rbuf(:), blkbuf(:)
  integer, allocatable :: a2a_s(:), a2a_r(:), gat(:)
  integer :: a2a_sum
  character(len=256) :: out, data, arg
  integer :: steps, delay, rank, np, ierr, s, i, left, right, fh, reqs(2), rc
  integer :: stats(MPI_STATUS_SIZE, 2)
  integer(kind=MPI_OFFSET_KIND) :: off
  real(8) :: local, tot, root_val, chk
  call MPI_Init(ierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, ierr)
  call MPI_Comm_size(MPI_COMM_WORLD, np, ierr)
  call get_command_argument(1, out)
  call get_command_argument(2, data)
  call get_command_argument(3, arg); read(arg, *) steps
  call get_command_argument(4, arg); read(arg, *) delay
  allocate(sbuf(big), rbuf(big), blkbuf(blk), a2a_s(np), a2a_r(np), gat(np))
  left = mod(rank - 1 + np, np)
  right = mod(rank + 1, np)
  do i = 1, big
    sbuf(i) = rank + i * 1d-6
  end do
  call MPI_File_open(MPI_COMM_WORLD, data, MPI_MODE_CREATE + MPI_MODE_WRONLY, MPI_INFO_NULL, fh, ierr)
  if (rank == 0) open(10, file=out, status='replace', action='write')
  chk = 0
  do s = 1, steps
    call MPI_Isend(sbuf, big, MPI_DOUBLE_PRECISION, right, s, MPI_COMM_WORLD, reqs(1), ierr)
    if (delay > 0) rc = usleep(int(delay * 1000, c_int))
    call MPI_Irecv(rbuf, big, MPI_DOUBLE_PRECISION, left, s, MPI_COMM_WORLD, reqs(2), ierr)
    call MPI_Waitall(2, reqs, stats, ierr)
    local = 0
    do i = 1, big, 97
      local = local + rbuf(i) * (s + rank)
    end do
    call MPI_Allreduce(local, tot, 1, MPI_DOUBLE_PRECISION, MPI_SUM, MPI_COMM_WORLD, ierr)
    root_val = tot * 0.5d0
    call MPI_Bcast(root_val, 1, MPI_DOUBLE_PRECISION, mod(s, np), MPI_COMM_WORLD, ierr)
    do i = 1, np
      a2a_s(i) = mod(s * 31 + rank * 7 + i, 1000)
    end do
    call MPI_Alltoall(a2a_s, 1, MPI_INTEGER, a2a_r, 1, MPI_INTEGER, MPI_COMM_WORLD, ierr)
    a2a_sum = sum(a2a_r)
    call MPI_Gather(a2a_sum, 1, MPI_INTEGER, gat, 1, MPI_INTEGER, 0, MPI_COMM_WORLD, ierr)
    do i = 1, big
      sbuf(i) = rbuf(i) * 0.999d0 + root_val * 1d-9
    end do
    do i = 1, blk
      blkbuf(i) = sbuf(i) + s
    end do
    off = (int(s - 1, MPI_OFFSET_KIND) * np + rank) * blk * 8
    call MPI_File_write_at_all(fh, off, blkbuf, blk, MPI_DOUBLE_PRECISION, MPI_STATUS_IGNORE, ierr)
    if (rank == 0) then
      chk = chk + tot
      write(10, '(I5, 1X, ES25.17, 1X, ES25.17, 99(1X, I6))') s, tot, root_val, gat
      flush(10)
    end if
  end do
  call MPI_File_close(fh, ierr)
  if (rank == 0) then
    write(10, '(A, 1X, ES25.17)') 'done', chk
    close(10)
  end if
  call MPI_Finalize(ierr)
end program
