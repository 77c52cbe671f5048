#!/bin/bash
#SBATCH --job-name=test-nodes        # name
#SBATCH --nodes=1                    # nodes
#SBATCH --ntasks-per-node=1          # one task per node
#SBATCH --cpus-per-task=1           # cores per task
#SBATCH --time 0:05:00               # at most
#SBATCH --output=%x-%j.out           # output file

srun --jobid $SLURM_JOBID bash -c 'hostname'
# Directives from skypilot-org/skypilot examples/slurm_cloud_deploy/run.sh (adapted: --nodes=2 made 1).
