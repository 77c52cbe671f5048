#!/bin/bash
# From SJTU-HPC/docs.hpc.sjtu.edu.cn docs/jobs/examples/variable-time-jobs/cori-knl/variable-time-jobs.sh,
# as it is: -C knl (a node feature) is refused here.
#SBATCH -J vtj
#SBATCH -q regular
#SBATCH -C knl 
#SBATCH -N 2
#SBATCH --comment=96:00:00
#SBATCH --time-min=2:00:00 #the minimum amount of time the job should run
#SBATCH --time=48:00:00
#SBATCH --error=vtj-%j.err
#SBATCH --output=vtj-%j.out
#SBATCH --mail-user=elvis@nersc.gov
#
#SBATCH --signal=B:USR1@60
#SBATCH --requeue
#SBATCH --open-mode=append

max_timelimit=48:00:00   # can match the #SBATCH --time option but don't have to
ckpt_overhead=60         # should match the time in the #SBATCH --signal option
ckpt_command=

. /usr/common/software/variable-time-job/setup.sh
requeue_job func_trap USR1

export OMP_PROC_BIND=true
export OMP_PLACES=threads
export OMP_NUM_THREADS=8

srun -n32 -c16 --cpu_bind=cores ./a.out &

wait
