#!/bin/bash
# From aws-samples/aws-hpc-recipes recipes/pcs/pcs_demo/assets/job.sh.
# Adapted: sleep 60 made sleep 1.

#SBATCH -J test
#SBATCH -o test-%j.out   # Write the standard output to file named 'test-<job_number>.out'
#SBATCH -e test-%j.err   # Write the standard error to file named 'test-<job_number>.err'

echo "Hello world. This is job ${SLURM_JOB_NAME} [${SLURM_JOB_ID}] running on ${SLURMD_NODENAME}, submitted from ${SLURM_SUBMIT_HOST}" && sleep 1 && echo "Job complete"
