#!/bin/bash
#
#SBATCH --job-name=test
#SBATCH --output=res_long.txt
#SBATCH --partition=long
#
#SBATCH --ntasks=1
#SBATCH --time=10:00
#SBATCH --mem-per-cpu=100

srun hostname
srun sleep 1
# Directives from jajupmochi/graphkit-learn notebooks/else/job_test.sl (adapted:
# res.txt made res_long.txt, not to share the file of test_script.sh; sleep 60 made 1).
