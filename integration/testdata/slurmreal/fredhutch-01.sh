#!/bin/bash
# From FredHutch/slurm-examples introduction/3-array-jobs/01.sh. Adapted:
# --array=4-14 made 4-6.
#SBATCH --array=4-6

# This is a basic array job.  Submit with `sbatch ./01.sh`

echo "Hello- I'm task ${SLURM_ARRAY_TASK_ID} of job ${SLURM_ARRAY_JOB_ID}"
echo "There are ${SLURM_ARRAY_TASK_COUNT} tasks in this array"
