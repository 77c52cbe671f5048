#!/bin/bash
#SBATCH -J vtj 
#SBATCH -q regular
#SBATCH -C haswell
#SBATCH -N 2
#SBATCH --time=48:00:00
#SBATCH --time-min=2:00:00 #the shortest run
#SBATCH --error=vtj-%j.err
#SBATCH --output=vtj-%j.out
#SBATCH --mail-user=elvis@nersc.gov
#
#SBATCH --comment=96:00:00  #the time wanted
#SBATCH --signal=B:USR1@60
#SBATCH --requeue
#SBATCH --open-mode=append
srun -n64 -c2 --cpu_bind=cores ./a.out &
wait
# Directives from dstdev/base-cluster-docs docs/jobs/examples/variable-time-jobs/cori-haswell/variable-time-jobs.sh, unchanged.
