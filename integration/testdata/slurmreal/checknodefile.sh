#!/bin/bash
# From ecetter/slurmintro checknodefile.sh, as it is (submitted with
# sbatch -n 2, as the course does).

NODEFILE="$(pwd)/slurmhosts.$SLURM_JOB_ID.txt"
srun /bin/hostname -s &> $NODEFILE
cat $NODEFILE
