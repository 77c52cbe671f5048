#!/bin/bash
# From SanderStammbach/Cluster Optim_Param.sh. Adapted: --cpus-per-task=36
# made 2 and --mem=468G made 1G (this host); python Optim_Param.py is a
# stand-in echo of what it would read.
#SBATCH --job-name=ergotropy
#SBATCH --time=5:30:00
#SBATCH --partition=short
#SBATCH --nodes=1
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2         # statt 12x3 externe Tasks
#SBATCH --mem=1G
#SBATCH --output=optimale-param%j.out
#SBATCH --error=optimale-param%j.err

export OMP_NUM_THREADS=1
export OPENBLAS_NUM_THREADS=1
export MKL_NUM_THREADS=1
export NUMEXPR_NUM_THREADS=1
export MAX_WORKERS=$SLURM_CPUS_PER_TASK   # optional fürs Python

echo "CPUS_PER_TASK=$SLURM_CPUS_PER_TASK"

srun -n 1 sh -c 'echo "workers=$MAX_WORKERS omp=$OMP_NUM_THREADS mem=$SLURM_MEM_PER_NODE"'
