#!/bin/bash
#
#SBATCH --job-name=test
#SBATCH --output=res.txt
#
#SBATCH --ntasks=1
#SBATCH --time=60:00
#SBATCH --mem-per-cpu=200

srun hostname
srun sleep 1
# Directives from JustinSQiu/TinyZero-Efficient test_script.sh (adapted: sleep 60 made 1).
