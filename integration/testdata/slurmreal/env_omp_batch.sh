#!/bin/bash
# From ncsa/lci-scripts introductory/2026/run_apps_scheduler/Run_apps_scheduler/OpenMP/env_omp_batch.sh.
# Adapted: --cpus-per-task=4 made 2 (this host's CPUs); ./env_omp.x is a
# stand-in that prints what an OpenMP program sees.

#SBATCH --job-name=env_omp
#SBATCH --output=a.out
#SBATCH --partition=lcilab
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=2
#SBATCH --time=00:01:00

export OMP_NUM_THREADS=$SLURM_CPUS_PER_TASK
./env_omp.x
