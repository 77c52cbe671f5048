! fomp OUT STEPS DELAY_MS: gfortran with OpenMP under a checkpoint. Each
! step relaxes a 2-D grid with a parallel (static) Jacobi sweep over
! OMP_NUM_THREADS threads, sums it per thread, combines the sums in thread
! order (an OpenMP reduction's order is not fixed) and writes one line,
! the same bytes on every run.
program fomp
  use omp_lib
  implicit none
  integer, parameter :: n = 500
  real(8), allocatable :: u(:,:), v(:,:), part(:)
  character(len=256) :: out, arg
  integer :: steps, delay, s, i, j, t, nt
  real(8) :: total
  call get_command_argument(1, out)
  call get_command_argument(2, arg); read(arg, *) steps
  call get_command_argument(3, arg); read(arg, *) delay
  allocate(u(n, n), v(n, n))
  nt = omp_get_max_threads()
  allocate(part(0:nt-1))
  do j = 1, n
    do i = 1, n
      u(i, j) = mod(i * 7 + j * 13, 17) / 17.0d0
    end do
  end do
  open(10, file=out, status='replace', action='write')
  do s = 1, steps
    part = 0
    !$omp parallel private(t, i, j)
    t = omp_get_thread_num()
    !$omp do schedule(static)
    do j = 2, n - 1
      do i = 2, n - 1
        v(i, j) = 0.25d0 * (u(i-1, j) + u(i+1, j) + u(i, j-1) + u(i, j+1)) + 1d-3 * sin(dble(s))
      end do
    end do
    !$omp end do
    !$omp do schedule(static)
    do j = 2, n - 1
      do i = 2, n - 1
        u(i, j) = v(i, j)
        part(t) = part(t) + v(i, j) * (i + j)
      end do
    end do
    !$omp end do
    !$omp end parallel
    total = 0
    do t = 0, nt - 1
      total = total + part(t)
    end do
    write(10, '(I6, 1X, ES25.17, 1X, I3)') s, total, nt
    flush(10)
    if (delay > 0) call sleepms(delay)
  end do
  write(10, '(A)') 'done'
  close(10)
contains
  subroutine sleepms(ms)
    use iso_c_binding, only: c_int
    integer, intent(in) :: ms
    interface
      integer(c_int) function usleep(us) bind(C, name='usleep')
        import :: c_int
        integer(c_int), value :: us
      end function
    end interface
    integer(c_int) :: rc
    rc = usleep(int(ms * 1000, c_int))
  end subroutine
end program
