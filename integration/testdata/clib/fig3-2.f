C-----C
C A Fortran example of how to have a program checkpoint itself C
C Figure 3-2 of the CONVEX Checkpoint Restart Guide, adapted only C
C where Linux and gfortran differ: chkpnt takes its five arguments C
C (the figure leaves out signo: 0 here), and the stray endif after C
C the first test is gone. C
C-----C
      implicit none      ! No implicitly defined variables !

C-----C
C This section sets some constants for checkpoint C
C The values of these are found in /usr/include/chkpnt.h C
C-----C
      integer CHKPNT_PROC
      parameter (CHKPNT_PROC = '0001'x)
      integer CHKPNT_KILL
      parameter (CHKPNT_KILL = '0010'x)

C-----C
C Functions used in this code C
C-----C
      integer getpid
      integer chkpnt

C-----C
C Variables used in this code C
C-----C
      integer ret_val
      integer pid

C-----C
C This section will checkpoint itself into a file named ex1 C
C If the system crashes it will be possible to use restart(1) to C
C restart from the file ex1. C
C-----C
      pid = getpid()
      ret_val = chkpnt (CHKPNT_PROC, pid, 'ex1', 0, 0)
      if (0 .NE. ret_val) then
        write(*,*)'chkpnt 1 failed'
        if (-1 .EQ. ret_val) then
          call perror("chkpnt_1")
          call exit(1)
        else
          write(*,*)'ret_val = ',ret_val
          call exit(2)
        endif
      endif

C-----C
C This section will checkpoint itself into a file named ex2 with the C
C option that causes this program to be killed when the checkpoint C
C is completed. After the checkpoint executes the file ex2 will exist C
C but the caller will notice that this code has been killed. It will C
C then be available for restarting using restart(1). C
C-----C
      pid = getpid()
      ret_val = chkpnt(CHKPNT_PROC, pid, 'ex2', CHKPNT_KILL, 0)
      if (0 .NE. ret_val) then
          write(*,*)'chkpnt 2 failed'
          if (-1 .EQ. ret_val) then
              call perror("chkpnt_2")
              call exit(1)
          else
              write(*,*)'ret_val = ',ret_val
              call exit(2)
          endif
      endif
      end
